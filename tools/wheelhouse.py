"""A wheelhouse for installing ablate on a machine without network (a GPU or cluster node).

Built where the package index is reachable, for the node's Python and platform, holding only
what the node lacks (it keeps its own torch, CUDA and scientific stack):

    python tools/wheelhouse.py wheelhouse --python-version 3.12          # build, here
    pip install --no-index --find-links wheelhouse ablate                # install, on the node

What goes in: ablate's own wheel (built here without build isolation: `ablate.conf` and
`ablate.sweeps` exist only through the wheel's package mapping, so a bare checkout on PYTHONPATH
would not find its configs), a wheel of antlr4-python3-runtime 4.9.3 (omegaconf needs it and
PyPI has only its source archive), and every other requirement the node does not `--have`,
downloaded as binary wheels for the node's interpreter. A requirement reachable only through
what the node has (matplotlib's fonttools, say) is left out.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
HAVE = Path(__file__).with_name("gpu_node_packages.txt")  # what a typical CUDA PyTorch image holds
ANTLR = "antlr4-python3-runtime==4.9.3"


def name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def ablate_wheel(out: Path) -> Path:
    """This checkout's wheel, built offline (no build isolation: the environment's setuptools)."""
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO))
    return next(out.glob("ablate-*.whl"))


def _metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(meta).decode())


def names_in(path: Path) -> set[str]:
    """The projects a file lists, one per line (`#` starts a comment line)."""
    lines = path.read_text().splitlines()
    return {name(line.strip()) for line in lines if line.strip() and not line.startswith("#")}


def closure(requires: dict[str, list[str]], roots, stop: set[str], env: dict[str, str]) -> set[str]:
    """The projects reachable from `roots` through `requires` (project -> its Requires-Dist lines,
    markers evaluated in `env`, no extras) without passing through `stop`."""
    todo, seen = [name(r) for r in roots], set()
    while todo:
        project = todo.pop()
        if project in seen or project in stop:
            continue
        seen.add(project)
        for line in requires.get(project, []):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                todo.append(name(req.name))
    return seen


def needed(out: Path, roots: list[str], have: set[str], env: dict[str, str]) -> set[str]:
    """The wheels' projects reachable from `roots` (markers evaluated for the node) without
    passing through what the node has."""
    metas = [_metadata(w) for w in out.glob("*.whl")]
    return closure({name(m["Name"]): m.get_all("Requires-Dist") or [] for m in metas}, roots, have, env)


def build(out: Path, python_version: str, platforms: list[str], have: set[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    ablate = ablate_wheel(out)
    _pip("wheel", "--no-deps", "-q", "-w", str(out), ANTLR)
    roots = [Requirement(r) for r in _metadata(ablate).get_all("Requires-Dist") if "extra ==" not in r]
    wanted = [str(r) for r in roots if name(r.name) not in have]  # with ablate's version limits
    target = ["--python-version", python_version, "--implementation", "cp", "--only-binary=:all:"]
    target += [arg for p in platforms for arg in ("--platform", p)]
    _pip("download", "-q", "-d", str(out), "--find-links", str(out), *target, *wanted)
    major, minor = python_version.split(".")[:2]
    env = {**default_environment(), "python_version": f"{major}.{minor}", "python_full_version": f"{major}.{minor}.0"}
    keep = needed(out, ["ablate"], have, env)
    for wheel in out.glob("*.whl"):
        if name(_metadata(wheel)["Name"]) not in keep:
            wheel.unlink()
    return sorted(out.glob("*.whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the wheelhouse folder")
    parser.add_argument("--python-version", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("--platform", action="append", help="wheel platform tags (default: manylinux x86_64)")
    parser.add_argument("--have-file", type=Path, default=HAVE, help="projects the node has, one per line")
    opts = parser.parse_args(argv)
    if not opts.have_file.is_file():
        parser.error(f"--have-file {opts.have_file}: no such file (allowed: a file of project names, one per line)")
    platforms = opts.platform or [f"manylinux{v}_x86_64" for v in ("2014", "_2_17", "_2_27", "_2_28")]
    wheels = build(opts.out, opts.python_version, platforms, names_in(opts.have_file))
    size = sum(w.stat().st_size for w in wheels) / 1e6
    print(f"{len(wheels)} wheels, {size:.1f} MB in {opts.out}: pip install --no-index --find-links {opts.out} ablate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
