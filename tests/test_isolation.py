"""Every test file passes on its own: a test that leans on another file's imports or state (a
config registered by an earlier import, a global a fixture set) passes in the whole run and fails
alone. Each file's quick tests run here in a fresh pytest process of their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every quick test again, one file per process (~6 min on 2 cores)

TESTS = Path(__file__).resolve().parent


def test_each_test_file_passes_alone():
    failed = []
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider", str(path)]
        done = subprocess.run(cmd, cwd=TESTS.parent, capture_output=True, text=True, timeout=900)
        if done.returncode not in (0, 5):  # 5: every test of the file is slow (none selected)
            failed.append(
                f"{path.name}: {done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]}"
            )
    assert not failed, "fail when run alone:\n" + "\n".join(failed)
