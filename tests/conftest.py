"""Shared fixtures: every test runs in its own launch directory with its own MLflow store.

Plain helpers (TINY, unpacked_wheel, the report store) live in tests/helpers/."""

from __future__ import annotations

import os
import sys

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.pop("MLFLOW_TRACKING_URI", None)

# CI (.ci/run sets ABLATE_NO_SKIPS=1): only the CUDA tests (marked gpu) may skip; any other skip
# (a server that did not install, a missing wheelhouse) fails the run instead of passing quietly
NO_SKIPS = os.environ.get("ABLATE_NO_SKIPS") == "1"
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and "gpu" not in report.keywords:
        _skipped.append(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if NO_SKIPS and _skipped:
        names = ", ".join(_skipped)
        terminalreporter.write_line(f"error: {len(_skipped)} non-CUDA test(s) skipped in CI: {names}", red=True)


def pytest_sessionfinish(session, exitstatus):
    if NO_SKIPS and _skipped and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
def launch_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def ablate_cli(launch_dir, monkeypatch, capsys):
    """Run `python -m ablate ARGS` in-process; returns (exit code, stdout, stderr)."""
    from hydra.core.global_hydra import GlobalHydra

    from ablate.__main__ import main

    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ablate", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            GlobalHydra.instance().clear()
        out = capsys.readouterr()
        return code, out.out, out.err

    return call
