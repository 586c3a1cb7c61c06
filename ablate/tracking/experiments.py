"""A study's tracking store and experiment, opened once per command (created when missing)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ablate.tracking.store import Tracker
from ablate.tracking.uri import artifact_location, resolve_uri
from ablate.util.locks import held


def open_experiment(uri: str | None, experiment: str, artifact_dir: str, launch_dir: Path) -> tuple[Tracker, str]:
    """The tracker and experiment id of a study, the store and experiment created if missing."""
    uri = resolve_uri(uri, launch_dir)
    local = uri.startswith("sqlite:///")  # two commands started together: one creates the tables
    with held(Path(uri[len("sqlite:///") :] + ".lock")) if local else contextlib.nullcontext():
        tracker = Tracker(uri)
        return tracker, tracker.experiment(experiment, artifact_location(uri, artifact_dir, launch_dir, experiment))
