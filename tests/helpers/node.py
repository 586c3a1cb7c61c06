"""A stand-in for an offline GPU node: a fresh virtual environment that already has the node's own
stack (torch, the scientific packages, pytest: tools/gpu_node_packages.txt) and nothing else.

The node's packages are this environment's own distributions, symlinked into one folder that a
.pth file puts on the new environment's path, so pip there sees them as installed (their
.dist-info comes along) while everything else (MLflow, Hydra, ablate) is missing until installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from helpers.wheel import REPO

NODE_PACKAGES = REPO / "tools" / "gpu_node_packages.txt"


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def node_packages() -> set[str]:
    lines = NODE_PACKAGES.read_text().splitlines()
    return {_name(line.strip()) for line in lines if line.strip() and not line.startswith("#")}


def _with_requirements(names: set[str]) -> set[str]:
    """`names` and, as installed here, everything they require (a node's stack is whole: torch
    brings its CUDA libraries, whatever this list calls them)."""
    installed = {_name(d.metadata["Name"]): d for d in metadata.distributions()}
    todo, seen = [n for n in names if n in installed], set()
    while todo:
        project = todo.pop()
        if project in seen:
            continue
        seen.add(project)
        for line in installed[project].requires or []:
            req = Requirement(line)
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and _name(req.name) in installed:
                todo.append(_name(req.name))
    return seen


def node_python(root: Path) -> Path:
    """The stand-in node's interpreter (a venv of this Python, without network use)."""
    subprocess.run([sys.executable, "-m", "venv", str(root / "node")], check=True, capture_output=True)
    site, have = root / "node-stack", _with_requirements(node_packages())
    site.mkdir()
    for dist in metadata.distributions():
        if _name(dist.metadata["Name"]) not in have:
            continue
        for top in {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            source, link = Path(dist.locate_file(top)), site / top
            if source.exists() and not link.exists():
                link.symlink_to(source)
    python = root / "node" / "bin" / "python"
    # the venv's own setuptools (3.11 bundles an old one) would hide the stack's newer one that torch needs
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], capture_output=True)
    paths = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", paths], check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "node-stack.pth").write_text(f"{site}\n")
    return python


def fresh_wheelhouse(wheelhouse: Path, root: Path) -> Path:
    """A copy of `wheelhouse` whose ablate wheel is this checkout's, built now (offline)."""
    copy = root / "wheelhouse"
    copy.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("ablate-"):
            (copy / wheel.name).symlink_to(wheel.resolve())
    build = ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(copy), str(REPO)]
    subprocess.run([sys.executable, "-m", "pip", *build], check=True, capture_output=True)
    return copy
