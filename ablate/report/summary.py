"""The report's first screen: the answer before the details.

First, when training had not converged (ablate/engine/convergence.py), which verdicts that
withholds and the command that trains to convergence. Then each claim's verdict in one line
(effects, intervals, n) with its size comparisons below it, the best arm on each headline metric,
how the intervals were made (the family, the looks), what a sequential sweep's rounds did, and the
command that adds seeds when a claim is still open, each with an estimated time from these runs.
"""

from __future__ import annotations

import json
import re

import numpy as np

from ablate.report.analysis import Section, rule_of
from ablate.report.collect import GROUPS, Study
from ablate.report.sequential import INCONCLUSIVE, PROVISIONAL
from ablate.report.tables import spread, summaries
from ablate.tracking.tags import ROUNDS

# the ceiling the summary's command proposes for training to convergence: at least this, or twice
# the epochs these runs had
CEILING = 100


def with_override(command: str, key: str, value: object) -> str:
    """The command with key=value set (replacing an existing key=...)."""
    pattern = rf"(?<=\s){re.escape(key)}=\S+"
    return re.sub(pattern, f"{key}={value}", command) if re.search(pattern, command) else f"{command} {key}={value}"


def _minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} min" if seconds >= 60 else f"about {seconds:.0f} s"


def _cold(s: Section) -> list[str]:
    """The arms of a section that had not converged (ablate/engine/convergence.py)."""
    return [c.label for c in s.grid.cells if c.n and not s.converged.get(c.label, False)]


def _not_converged(study: Study, sections: list[Section], command: str, epochs: int, seconds: float) -> list[str]:
    """First of all: which verdicts are withheld because training had not converged, and the command
    that trains every replicate to convergence."""
    lines = []
    ceiling = max(CEILING, 2 * epochs)
    more = with_override(with_override(command, "trainer.stop", "converged"), "trainer.epochs", ceiling)
    for s in sections:
        cold = _cold(s)
        if not cold:
            continue
        where = f"{s.task} on {s.data}: " if len(sections) > 1 else ""
        held = [str(c["claim"]) for c in s.claims if c["verdict"] == PROVISIONAL]
        which = f"all {len(cold)} arms" if len(cold) == len([c for c in s.grid.cells if c.n]) else "; ".join(cold)
        held_text = (
            f"claim{'s' if len(held) > 1 else ''} {', '.join(held)} {'are' if len(held) > 1 else 'is'} " if held else ""
        )
        lines.append(
            f"- ⚠ {where}**not converged: {held_text}provisional, no verdict.** In {which} the eval loss had not "
            f"plateaued by the last epoch (rule: {_rule_of(study, s)}, at each run's last epoch). "
            f"Training every replicate to convergence settles it: `{more}` (at most "
            f"{_minutes(seconds * ceiling / max(1, epochs))} of training summed over jobs, estimated from these runs)."
        )
    return lines


def _rule_of(study: Study, s: Section) -> str:
    ids = set(s.rows["run_id"])
    params = [c["params"] for c in study.children if c["run_id"] in ids]
    return rule_of(params[0] if params else {}).describe()


def _rounds(study: Study) -> list[str]:
    """What a sequential sweep's rounds did (its sweeper's record on the parent run)."""
    text = study.parent["tags"].get(ROUNDS)
    if not text:
        return []
    record = json.loads(text)
    done = record.get("rounds", [])
    seeds = ", ".join(f"{r['seeds']}" for r in done)
    spent, fixed = _replicate_epochs(study, study.design.looks[-1])
    return [
        f"- Sequential (`replicates=auto`, {study.design.describe()}): {len(done)} round"
        f"{'s' if len(done) != 1 else ''} (seeds per topped-up cell: {seeds}); {record.get('end', '')}. "
        f"Training spent {spent:,} replicate-epochs; {study.design.looks[-1]} seeds in every cell at the same "
        f"stopping rule would spend about {fixed:,} (each cell's mean epochs per seed times "
        f"{study.design.looks[-1]})."
    ]


def _replicate_epochs(study: Study, seeds: int) -> tuple[int, int]:
    """Epochs trained, summed over the finished runs; and the same for `seeds` runs per cell, each at
    its cell's mean (an estimate for the seeds that never ran)."""
    finished = study.runs[study.runs["status"] == "FINISHED"]
    epochs = [len(study.curves.get(r, {}).get("eval_loss", [])) for r in finished["run_id"]]
    cells = [c for c in (*GROUPS, *study.factors) if c in finished]
    mean = finished.assign(_epochs=epochs).groupby(cells)["_epochs"].mean() if cells else None
    fixed = int(round(float(mean.sum()) * seeds)) if mean is not None else int(round(np.mean(epochs) * seeds))
    return int(sum(epochs)), fixed


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
    lines += _not_converged(study, sections, command, epochs, seconds)
    for s in sections:
        where = f"{s.task} on {s.data}: " if len(sections) > 1 else ""
        for c in s.claims:
            lines.append(c["line"].replace("- **Claim", f"- {where}**Claim", 1))
            lines += [f"  - size: {text}." for text in c["sizes"]]
        best = _best(s)
        if best:
            lines.append(f"- {where}best arm: " + "; ".join(best) + ".")
    if any(s.claims for s in sections):
        lines.append(
            f"- Intervals of the verdicts: {sections[0].family.describe()}. A size compares the same interval with a "
            "reference size: a second answer, which never decides the direction."
        )
    lines += _rounds(study)
    n = min((c.n for s in sections for c in s.grid.cells if c.n), default=0)
    if 0 < n < 2:
        more = with_override(command, "replicates", 3)
        lines.append(
            f"- ⚠ **n = {n} training seed per arm: no test, no interval, no verdict.** Replicates settle it: "
            f"`{more}` ({_minutes(2 * seconds)} more training summed over jobs, estimated from these runs)."
        )
    elif (
        any(c["decided"] == INCONCLUSIVE for s in sections for c in s.claims)
        and 0 < n < 10
        and not study.parent["tags"].get(ROUNDS)
    ):
        more = with_override(command, "replicates", "auto")
        lines.append(
            f"- Undecided at n = {n}: training seeds added in rounds, only where a claim is still open, settle it: "
            f"`{more}` (at most {_minutes(seconds * (10 - n) / n)} more training summed over jobs for n = 10, "
            "estimated from these runs; the seeds done are reused)."
        )
    return [*lines, ""] if len(lines) > 2 else []
