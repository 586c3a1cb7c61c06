"""The report's first screen: the answer before the details.

Each claim's verdict in one line (effect, interval, n), the best arm on each headline metric,
and warnings with the command that would settle them: training that had not converged (rule
below), or too few training seeds for a test, each with an estimated time from these runs.
"""

from __future__ import annotations

import re

import numpy as np

from ablate.report.analysis import Section
from ablate.report.collect import Study
from ablate.report.tables import spread, summaries

# the convergence rule: an arm's mean eval loss fell more than this fraction over the last quarter
# of its epochs (at least the last one): training had not converged
STILL_FALLING = 0.02


def with_override(command: str, key: str, value: object) -> str:
    """The command with key=value set (replacing an existing key=...)."""
    pattern = rf"(?<=\s){re.escape(key)}=\S+"
    return re.sub(pattern, f"{key}={value}", command) if re.search(pattern, command) else f"{command} {key}={value}"


def _minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} min" if seconds >= 60 else f"about {seconds:.0f} s"


def falling(study: Study, s: Section) -> list[tuple[str, float, int]]:
    """(arm, relative drop, epochs looked at) for each arm whose eval loss was still falling."""
    out = []
    for cell in s.grid.cells:
        curves = [dict(study.curves.get(r, {}).get("eval_loss", [])) for r in cell.finished["run_id"]]
        curves = [c for c in curves if len(c) > 1]
        if not curves:
            continue
        steps = sorted(set.intersection(*(set(c) for c in curves)))
        if len(steps) < 2:
            continue
        mean = np.array([[c[e] for e in steps] for c in curves]).mean(0)
        back = max(1, len(steps) // 4)
        drop = (mean[-1 - back] - mean[-1]) / abs(mean[-1]) if mean[-1] else 0.0
        if drop > STILL_FALLING:
            out.append((cell.label, float(drop), back))
    return out


def _best(s: Section) -> list[str]:
    lines = []
    for metric in (m for m in s.reg if m.best and m.sign):  # the registry's headline metrics, in its order
        cells = [(c, summaries(c, [metric.name])[metric.name]) for c in s.grid.cells if c.values_of(metric.name)]
        if len(cells) < 2:
            continue
        cell, stats = max(cells, key=lambda cs: metric.sign * cs[1]["mean"])
        lines.append(f"{metric.heading}: {cell.label} ({spread(s.reg, stats, metric.name)}, n = {cell.n})")
    return lines


def summary(study: Study, sections: list[Section], command: str) -> list[str]:
    lines = ["## Summary", ""]
    seconds = float(np.nansum(study.runs.get("train_seconds", [])))  # these runs' training, one by one
    logged = [c["params"].get("trainer.epochs", "") for c in study.children]
    epochs = max((int(v) for v in logged if v.isdigit()), default=0)
    for s in sections:
        where = f"{s.task} on {s.data}: " if len(sections) > 1 else ""
        lines += [c["line"].replace("- **Claim", f"- {where}**Claim", 1) for c in s.claims]
        best = _best(s)
        if best:
            lines.append(f"- {where}best arm: " + "; ".join(best) + ".")
        still = falling(study, s)
        if still:
            k = still[0][2]
            drops = sorted(100 * d for _, d, _ in still)
            lo, hi = f"{drops[0]:.1f}%", f"{drops[-1]:.1f}%"
            span = lo if lo == hi else f"{lo} to {hi}"
            which = f"all {len(still)} arms" if len(still) == len(s.grid.cells) else "; ".join(a for a, _, _ in still)
            arms = f"{which} (down {span} over the last {k} epoch{'s' if k > 1 else ''})"
            more = with_override(command, "trainer.epochs", 2 * epochs) if epochs else command
            lines.append(
                f"- ⚠ {where}**not converged**: eval loss was still falling at the end in {arms} (rule: a drop "
                f"of more than {100 * STILL_FALLING:.0f}% over the last quarter of the epochs). Longer training "
                f"settles it: `{more}` ({_minutes(2 * seconds)} of training summed over jobs, estimated from these "
                "runs)."
            )
    n = min((c.n for s in sections for c in s.grid.cells if c.n), default=0)
    if 0 < n < 2:
        more = with_override(command, "replicates", 3)
        lines.append(
            f"- ⚠ **n = {n} training seed per arm: no test, no interval, no verdict.** Replicates settle it: "
            f"`{more}` ({_minutes(2 * seconds)} more training summed over jobs, estimated from these runs)."
        )
    elif any(c["verdict"] == "inconclusive" for s in sections for c in s.claims) and 0 < n < 10:
        more = with_override(command, "replicates", 10)
        lines.append(
            f"- Inconclusive at n = {n}: more training seeds narrow the intervals: `{more}` "
            f"({_minutes(seconds * (10 - n) / n)} more training summed over jobs, estimated from these runs; the "
            "seeds done are reused)."
        )
    return [*lines, ""] if len(lines) > 2 else []
