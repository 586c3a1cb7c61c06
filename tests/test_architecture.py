"""The rules the code keeps, read from its source: data flows one way (config -> data -> task ->
model -> train -> evaluate -> tracking -> report), core code never imports a plugin, only
ablate/tracking/store.py talks to MLflow, and modules and functions stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers.wheel import REPO

# each stage's modules, in the order data flows through them
STAGES = [
    ("data", ["ablate/data"]),
    ("task", ["ablate/tasks"]),
    ("model", ["ablate/models"]),
    ("train", ["ablate/engine/train.py", "ablate/engine/checkpoint.py"]),
    ("evaluate", ["ablate/evaluate"]),
    ("tracking", ["ablate/tracking/store.py", "ablate/util/redaction.py"]),
    ("report", ["ablate/report"]),
]
MODULE_OF = {"data": "ablate.data", "task": "ablate.tasks", "model": "ablate.models", "train": "ablate.train",
             "evaluate": "ablate.evaluate", "tracking": "ablate.tracking", "report": "ablate.report"}  # fmt: skip


def sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def files_of(entries: list[str]) -> list[Path]:
    return [p for e in entries for p in ([REPO / e] if e.endswith(".py") else sources(e))]


@pytest.mark.parametrize("index", range(len(STAGES)), ids=[s[0] for s in STAGES])
def test_no_stage_imports_a_later_stage(index):
    later = [MODULE_OF[name] for name, _ in STAGES[index + 1 :]]
    for path in files_of(STAGES[index][1]):
        bad = sorted(m for m in imported(path) for stage in later if m == stage or m.startswith(stage + "."))
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_core_never_imports_a_plugin():
    for path in sources("ablate"):
        assert not any(m.startswith("hydra_plugins") for m in imported(path)), path


def test_only_tracking_imports_mlflow():
    for path in sources("ablate", "benchmarks"):
        uses = any(m == "mlflow" or m.startswith("mlflow.") for m in imported(path))
        assert not uses or path == REPO / "ablate" / "tracking.py", path


def test_the_run_module_is_imported_only_by_the_entry_point():
    for path in sources("ablate", "hydra_plugins", "benchmarks"):
        if "ablate.run" in imported(path):
            assert path == REPO / "ablate" / "__main__.py", path


def test_modules_and_functions_stay_small():
    for path in sources("ablate", "hydra_plugins", "benchmarks"):
        text = path.read_text()
        assert len(text.splitlines()) <= 300, f"{path.relative_to(REPO)}: over 300 lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {length} lines"


def test_nothing_cites_a_file_outside_the_repository():
    for path in [*sources("ablate", "hydra_plugins", "benchmarks"), REPO / "README.md"]:
        assert "STUDY.md" not in path.read_text(), path
