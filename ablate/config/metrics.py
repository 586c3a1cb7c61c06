"""The metric registry: what each metric is, declared once.

A metric has a name (what runs log), a label and a unit (what tables, the console and the UI
show), which direction is better, how the report prints it, whether it is logged every epoch (a
curve; the Optuna pruner reads these) and where it shows: a table of the report, the effects
tested, the summary's best-arm line, the headline metrics (console table, run descriptions, the
MLflow shared view). The report's tables, effects, summary, curves, the console, the UI view and
the Optuna sweeper all read this registry, so a metric declared here, or by a task
(`Task.metrics`, e.g. ablate/tasks/metrics.py), reaches every one of them with no other edit.

A task's own metrics travel with its runs (the `ablate/metrics` tag, as `Metric.as_dict`), so a
report rebuilt from the tracking store alone knows them without importing the task.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

BETTER = ("higher", "lower")
TABLES = ("cluster", "quality", "cost", "")  # the report's tables; "" for none


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    better: str = ""  # "higher" | "lower" | "" (neither: a size, a cost, a spread)
    unit: str = ""
    format: str = ".4g"  # a format spec for the report's tables ("" + unit when one is declared)
    per_epoch: bool = False  # logged every epoch (step = epoch): a curve, and a metric a pruner can judge
    table: str = "quality"  # the report's table that shows it
    tested: bool = True  # its effects are estimated and tested (one Holm family per metric)
    best: bool = True  # the summary names the best arm on it
    key: bool = False  # a headline metric: console table, run descriptions, the UI's columns and charts

    def __post_init__(self) -> None:
        if self.better not in (*BETTER, ""):
            raise ValueError(f"metric {self.name}: better={self.better!r} (allowed: higher, lower, or empty)")
        if self.table not in TABLES:
            raise ValueError(f"metric {self.name}: table={self.table!r} (allowed: {', '.join(t for t in TABLES if t)})")

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is, 0 when neither."""
        return {"higher": 1, "lower": -1}.get(self.better, 0)

    @property
    def direction(self) -> str:
        """As an optimizer says it: maximize or minimize."""
        return "maximize" if self.better == "higher" else "minimize"

    @property
    def heading(self) -> str:
        """A table's column heading: 'PSNR (dB)'."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def show(self, x: float | None) -> str:
        """The value as the report's tables print it; '—' when there is none."""
        if x is None or not math.isfinite(x):
            return "—"
        x = 0.0 if abs(x) < 1e-12 else x  # rounding residue of a zero difference: the same text everywhere
        return format(x, self.format)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Metric:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# what the latent evaluation logs, in the order of the report's clustering table (the article's:
# purity, its spread over k-means seeds, NMI, ARI, the feature dim); its raw-feature baseline too
CLUSTERING = ("purity_mean", "purity_std", "nmi_mean", "ari_mean", "latent_dim")
# derived by the report from the eval-loss curve: the eval loss after the first epoch, and how fast
# a run learned (ablate/evaluate/speed.py; the study's `speed:` says over which horizon, to which loss)
EARLY = "eval_loss_epoch1"
AUC, TO_LOSS = "loss_auc", "epochs_to_loss"

# the metrics ablate itself logs, whatever the task: training losses, the latent's clustering, the
# run's cost. Order matters: it is the order of the report's columns and effects.
CORE = (
    Metric("train_loss", "train loss", "lower", per_epoch=True, table="", tested=False, best=False),
    Metric("eval_loss", "eval loss", "lower", per_epoch=True, table="", tested=False, best=False),
    Metric("purity_mean", "purity", "higher", format=".4f", table="cluster", key=True),
    Metric("purity_std", "k-means std", format=".4f", table="cluster", tested=False, best=False),
    Metric("nmi_mean", "NMI", "higher", format=".4f", table="cluster", tested=False, best=False),
    Metric("ari_mean", "ARI", "higher", format=".4f", table="cluster", tested=False, best=False),
    Metric("latent_dim", "feature dim", format=",.0f", table="cluster", tested=False, best=False),
    Metric("final_train_loss", "final train loss", "lower", tested=False, best=False),
    Metric("final_eval_loss", "final eval loss", "lower", key=True),
    Metric(EARLY, "eval loss, epoch 1", "lower", best=False),
    Metric(AUC, "eval-loss AUC", "lower", best=False),
    Metric(TO_LOSS, "epochs to the speed threshold", "lower", unit="epochs", format=".3g", best=False),
    Metric("stop_epoch", "epochs trained", format=".0f", table="cost", tested=False, best=False),
    Metric("n_params", "trainable params", format=",.0f", table="cost", tested=False, best=False),
    Metric("epoch_cost_s", "s per epoch per replicate", format=".3g", table="cost", tested=False, best=False),
    Metric("train_seconds", "train s", format=".1f", table="cost", tested=False, best=False),
)


class Registry:
    """The metrics known to one sweep: ablate's own, then each task's, in declaration order. A
    name declared twice keeps its first declaration (a task cannot redefine purity)."""

    def __init__(self, *groups: tuple[Metric, ...] | list[Metric]):
        self._by_name: dict[str, Metric] = {}
        for group in (CORE, *groups):
            for metric in group:
                self._by_name.setdefault(metric.name, metric)

    def __iter__(self):
        return iter(self._by_name.values())

    def get(self, name: str) -> Metric:
        """The metric, or a plain one for a name nobody declared (4 significant digits)."""
        return self._by_name.get(name) or Metric(name, name.replace("_", " "), table="", tested=False, best=False)

    def names(self, **where: Any) -> list[str]:
        """Names of the metrics whose fields equal `where`, e.g. names(table="quality")."""
        return [m.name for m in self if all(getattr(m, k) == v for k, v in where.items())]

    @property
    def per_epoch(self) -> dict[str, str]:
        """{name: maximize | minimize} of the metrics logged every epoch."""
        return {m.name: m.direction for m in self if m.per_epoch}

    def label(self, name: str) -> str:
        return self.get(name).label

    def show(self, name: str, x: float | None) -> str:
        return self.get(name).show(x)
