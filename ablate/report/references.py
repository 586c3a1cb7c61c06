"""Reference tables (declared in YAML: ablate/config/claims.py) looked up for one task and dataset:
the column of published values beside the measured cells, and reference sizes of effects, the
same contrast computed on the table's cells."""

from __future__ import annotations

from ablate.config.claims import Deciding, Reference, same_level
from ablate.config.metrics import Registry


def _matches(at: dict, values: dict[str, str]) -> bool:
    return all(k in values and same_level(v, values[k]) for k, v in at.items())


class Lookup:
    """The reference table that applies to one task and dataset (the first declared)."""

    def __init__(self, table: Reference):
        self.table = table

    @classmethod
    def find(cls, tables: list[Reference], task: str, data: str, metric: str) -> Lookup | None:
        found = next((t for t in tables if t.metric == metric and t.where.covers(task, data)), None)
        return cls(found) if found else None

    def heading(self, reg: Registry) -> str:
        """The column's heading: 'article purity'."""
        return f"{self.table.label} {reg.label(self.table.metric)}"

    def _mean_std(self, values: dict[str, str]) -> tuple[float, float] | None:
        return next(((m, s) for at, m, s in self.table.cells if _matches(at, values)), None)

    def cell(self, values: dict[str, str]) -> str:
        """'0.5123 ± 0.0005' for a measured cell the table has, else ''."""
        found = self._mean_std(values)
        return f"{found[0]:.4f} ± {found[1]:.4f}" if found else ""

    def baseline_text(self) -> str:
        base = self.table.baseline
        return f"{base[0]:.4f} ± {base[1]:.4f}" if base else ""

    def _mean(self, at: dict) -> list[float]:
        """Table means of the cells whose levels include `at` (declared values)."""
        return [
            m for cell, m, _ in self.table.cells if all(k in cell and same_level(cell[k], v) for k, v in at.items())
        ]

    def _change(self, factor: str, low, high, given: dict) -> float | None:
        """mean(high cells) − mean(low cells), other factors averaged, `given` fixed."""
        highs, lows = self._mean({**given, factor: high}), self._mean({**given, factor: low})
        if not highs or len(highs) != len(lows):
            return None
        return sum(highs) / len(highs) - sum(lows) / len(lows)

    def size(self, effect: Deciding) -> float | None:
        """The effect computed on the table, in the effect's declared direction (to − from); None
        where the table lacks a cell it needs or measures another metric."""
        if effect.metric != self.table.metric:
            return None
        if effect.kind == "baseline":
            cell = self._mean(effect.cell)
            base = self.table.baseline
            return cell[0] - base[0] if len(cell) == 1 and base else None
        c = effect.change
        if effect.kind == "interaction":
            o = effect.other
            at_high = self._change(c.factor, c.low, c.high, {o.factor: o.high})
            at_low = self._change(c.factor, c.low, c.high, {o.factor: o.low})
            return None if at_high is None or at_low is None else at_high - at_low
        return self._change(c.factor, c.low, c.high, effect.within)
