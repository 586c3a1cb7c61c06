"""What a run and a sweep's parent say about themselves in the MLflow UI (their descriptions, one
markdown text each): a run's arm, seed and key metrics; a sweep's per-arm table, report and views.
Which metrics are key, their labels and units: the metric registry (ablate/config/metrics.py)."""

from __future__ import annotations

from ablate.config.metrics import Registry
from ablate.tracking.store import redact


def run_description(name: str, metrics: dict[str, float], reg: Registry) -> str:
    """A run's description in the UI (markdown, one line): its arm and seed, then its key metrics
    (the registry's, in its order)."""
    keys = [m for m in reg if m.key and m.name in metrics]
    shown = [f"{m.label} {metrics[m.name]:.4g}{' ' + m.unit if m.unit else ''}" for m in keys]
    return redact(f"**{name}**: {' · '.join(shown)}" if shown else f"**{name}**")


def key_first(metrics: dict[str, float], reg: Registry) -> dict[str, float]:
    """The metrics with the key ones first (where a run's page lists them), the rest sorted."""
    first = [k for k in reg.names(key=True) if k in metrics]
    return {k: metrics[k] for k in [*first, *sorted(set(metrics) - set(first))]}


def sweep_description(table: str, report: str, links: dict[str, str]) -> str:
    """The sweep parent's description in the UI (markdown): the per-arm table, the report, the views."""
    views = " · ".join(f"[{name}]({url})" for name, url in links.items())
    return redact(f"```\n{table}\n```\n\nreport: `{report}`\n\nviews: {views}")
