"""A stand-in for an offline GPU node: a fresh virtual environment that already has the node's own
stack (torch, the scientific packages, pytest: tools/gpu_node_packages.txt) and nothing else.

The node's packages are this environment's own distributions, symlinked into one folder that a
.pth file puts on the new environment's path, so pip there sees them as installed (their
.dist-info comes along) while everything else (MLflow, Hydra, ablate) is missing until installed.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment

from tools.wheelhouse import HAVE, ablate_wheel, closure, name, names_in


def _stack() -> set[str]:
    """The node's packages and, as installed here, everything they require (a node's stack is
    whole: torch brings its CUDA libraries, whatever the list calls them)."""
    installed = {name(d.metadata["Name"]): d.requires or [] for d in metadata.distributions()}
    return closure(installed, names_in(HAVE) & set(installed), set(), default_environment())


def node_python(root: Path) -> Path:
    """The stand-in node's interpreter (a venv of this Python, without network use)."""
    subprocess.run([sys.executable, "-m", "venv", str(root / "node")], check=True, capture_output=True)
    site, have = root / "node-stack", _stack()
    site.mkdir()
    for dist in metadata.distributions():
        if name(dist.metadata["Name"]) not in have:
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
    ablate_wheel(copy)
    return copy
