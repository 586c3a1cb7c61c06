"""What `ablate.sweep.preflight` checks of a search before anything runs (the arms themselves are composed
and checked there like any grid's jobs): the settings, the arms against the space, the storage, and
every value the space can take, composed into an arm's config, so a bad range fails now, not in trial 7."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from ablate.tasks.metrics import BUILTIN
from hydra_plugins.ablate_optuna_sweeper._search import arms
from hydra_plugins.ablate_optuna_sweeper._settings import KEY, Settings, SettingsError, override_value
from hydra_plugins.ablate_optuna_sweeper._storage import storage_url


def hparams_options() -> list[str]:
    folder = resources.files("ablate.conf") / "hparams"
    return sorted(e.name[: -len(".yaml")] for e in folder.iterdir() if e.name.endswith(".yaml"))


def values(spec: Any) -> list[Any]:
    """The values to try of one dimension: every choice, or both ends of a range."""
    if isinstance(spec, (list, tuple)):
        return list(spec)
    low, high = spec["low"], spec["high"]
    kind = spec.get("type") or ("int" if isinstance(low, int) and isinstance(high, int) else "float")
    return [int(low), int(high)] if kind == "int" else [float(low), float(high)]


def check(
    sweeper: Any,
    choice: str | None,
    overrides: list[str],
    tracking: str,
    launch_dir: Path,
    problem: Callable[[list[str]], str | None],
    declared: tuple = (),
) -> None:
    """Raise SettingsError (one line) for the first problem. `problem(extra_overrides)` composes an arm
    with these overrides added and says what is wrong with it, if anything; `declared`: the metrics
    the arms' tasks declare (a pruner may judge a task's own per-epoch metric)."""
    options = hparams_options()  # ablate's own; a folder on the search path may add more
    if not sweeper.get("space"):
        if choice is not None:  # the group is optional: Hydra does not complain of a missing option
            raise SettingsError(f"hparams={choice}: no such option (allowed: {', '.join(options)})")
        raise SettingsError(
            f"hydra/sweeper=optuna: no search space (allowed: {', '.join(f'hparams={n}' for n in options)})"
        )
    settings = Settings.parse(sweeper, declared or BUILTIN)  # the pruning metric is checked here
    arms(settings, [o for o in overrides if not o.startswith("hydra")])  # a key both searched and set
    from ablate.tracking.store import check_tracking

    reason = check_tracking(storage_url(settings, launch_dir, "preflight", tracking))  # reachable, writable
    if reason:
        raise SettingsError(f"{KEY}.storage: {reason}")
    for key, spec in settings.space.items():
        for value in values(spec):
            line = f"{key}={override_value(value)}"
            reason = problem([line])
            if reason:
                raise SettingsError(f"{KEY}.space.{key}: the value {override_value(value)} fails: {reason}")
