"""What a run and a sweep's parent say about themselves in the MLflow UI (their descriptions, one
markdown text each): a run's arm, seed and key metrics; a sweep's per-arm table, report and views."""

from __future__ import annotations

from ablate.tracking.store import redact

# the headline metrics, headline first: a run's description and the order its final metrics are logged
KEY_METRICS = ("purity_mean", "final_eval_loss", "psnr", "miou")
LABELS = {"purity_mean": "purity", "final_eval_loss": "final eval loss", "psnr": "PSNR", "miou": "mIoU"}
UNITS = {"psnr": " dB"}


def run_description(name: str, metrics: dict[str, float]) -> str:
    """A run's description in the UI (markdown, one line): its arm and seed, then its key metrics."""
    shown = [f"{LABELS[k]} {metrics[k]:.4g}{UNITS.get(k, '')}" for k in KEY_METRICS if k in metrics]
    return redact(f"**{name}**: {' · '.join(shown)}" if shown else f"**{name}**")


def sweep_description(table: str, report: str, links: dict[str, str]) -> str:
    """The sweep parent's description in the UI (markdown): the per-arm table, the report, the views."""
    views = " · ".join(f"[{name}]({url})" for name, url in links.items())
    return redact(f"```\n{table}\n```\n\nreport: `{report}`\n\nviews: {views}")
