"""The files others depend on to use and cite ablate agree with the package's own metadata."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# the [project] table's plain string keys (tomllib is Python 3.11+, ablate supports 3.10)
PROJECT = dict(re.findall(r'^(\w+) = "([^"]*)"$', (ROOT / "pyproject.toml").read_text(), flags=re.M))


def test_license_citation_and_changelog_match_the_package():
    assert PROJECT["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == PROJECT["license"]
    assert citation["version"] == PROJECT["version"] and citation["authors"]
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_pre_commit_runs_the_checks_ci_runs():
    hooks = [
        h for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"] for h in repo["hooks"]
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    for hook in hooks:
        assert re.search(rf"{re.escape(hook['entry'])} \.", ci), hook["entry"]  # the same command, on the tree
    assert {h["entry"] for h in hooks} == {"ruff check", "ruff format --check"}
