"""`python -m ablate.report`: rebuild a sweep's report from the tracking store alone.

    python -m ablate.report article_purity                  # latest sweep of that experiment
    python -m ablate.report --run-id 3f2a... --out reports/x # a given parent run
    python -m ablate.report 3f2a... --tracking-uri http://mlflow:5000

The same runs give a byte-identical report. Errors (no store, no such experiment or run, an
unwritable folder) are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ablate.report",
        description="Rebuild the markdown report (with results.csv, cells.csv, effects.csv, results.json and "
        "PNGs) of a sweep from its MLflow tracking store.",
    )
    p.add_argument("study", nargs="?", help="experiment name (its latest sweep) or a parent run id")
    p.add_argument("--experiment", help="experiment name: report its latest sweep (runs tagged ablate.kind=sweep)")
    p.add_argument("--run-id", help="the sweep's parent run id")
    p.add_argument(
        "--out",
        type=Path,
        help="output folder (default: <tracking.report_dir of the sweep, else reports>/<experiment>-<run id[:8]>)",
    )
    p.add_argument(
        "--tracking-uri",
        help="tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db in the current folder)",
    )
    return p


class _Fail(Exception):
    pass


def _store(uri: str | None):
    from ablate.tracking.store import Tracker, resolve_uri

    uri = resolve_uri(uri, Path.cwd())
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        raise _Fail(f"no tracking store at {uri[len('sqlite:///') :]} (give --tracking-uri or set MLFLOW_TRACKING_URI)")
    return Tracker(uri)


def _parent(tracker, args) -> dict:
    run_id = args.run_id or (args.study if args.study and _RUN_ID.match(args.study) and not args.experiment else None)
    if run_id:
        run = tracker.find_run(run_id)
        if run is None:
            raise _Fail(f"no run {run_id} in the tracking store")
        return run
    name = args.experiment or args.study
    if not name:
        raise _Fail("give an experiment name or --run-id (see --help)")
    exp_id = tracker.experiment_id(name)
    if exp_id is None:
        raise _Fail(f"no experiment named {name!r} in the tracking store")
    sweeps = tracker.sweeps(exp_id)
    if not sweeps:
        raise _Fail(f"experiment {name!r} has no sweep (no run tagged ablate.kind=sweep)")
    return sweeps[0]


def _report_dir(tracker, parent: dict) -> Path:
    """The sweep's `tracking.report_dir`, as its jobs logged it ("reports" when none did)."""
    for child in tracker.members(parent["experiment_id"], parent["run_id"]):
        if "tracking.report_dir" in child["params"]:
            return Path(child["params"]["tracking.report_dir"])
    return Path("reports")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from ablate.report.build import write_report
    from ablate.tracking.store import redact

    try:
        tracker = _store(args.tracking_uri)
        parent = _parent(tracker, args)
        out = args.out or _report_dir(tracker, parent) / (
            f"{tracker.experiment_name(parent['experiment_id'])}-{parent['run_id'][:8]}"
        )
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / ".write-test").write_text("")
            (out / ".write-test").unlink()
        except OSError as exc:
            raise _Fail(f"cannot write to {out}: {exc.strerror or exc}") from None
        path = write_report(tracker, parent["run_id"], out)
    except _Fail as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    print(f"report: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
