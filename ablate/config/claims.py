"""A study's claims and reference tables, declared in YAML (the `claims:` and `references:` keys:
conf/claims/NAME.yaml, a sweep file, or the user's own config) and read here into typed values.

A claim is a sentence and the effects that decide it. Each deciding effect is one the report
already estimates: a factor from one level to another (averaged over the other factors, or
`within` one level of another factor), the `interaction` of two factors, or a cell against the
raw-feature `baseline`; with the direction it is expected to take and, optionally, a reference
size (`reference`, or derived from a reference table: below) and a `margin`, the size below which
an effect counts as none (so that "no effect" can be an answer, not only a failure to find one).
`where` scopes a claim to tasks and datasets by name; `optional: true` leaves it out, without an
error, of a sweep that does not vary its factors (a default claim set must not break other studies).
How effects become verdicts: ablate/report/claims.py.

A reference table holds published numbers of one metric per cell (e.g. an article's purity per
arm) and, optionally, its raw-feature baseline: the report shows it beside the measured cells, and
a claim's reference size is the same contrast computed on the table where the table has its cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from omegaconf import OmegaConf

from ablate.config.checks import ConfigError

EXPECT = {"higher": 1, "lower": -1}
_CLAIM_KEYS = ("says", "where", "optional", "effects", "source")
_EFFECT_KEYS = (
    "metric",
    "factor",
    "from",
    "to",
    "within",
    "interaction",
    "baseline",
    "expect",
    "reference",
    "margin",
    "optional",
)
_WHERE_KEYS = ("task", "data")


@dataclass(frozen=True)
class Where:
    """Task and dataset names a claim or table applies to (empty: any)."""

    task: tuple[str, ...] = ()
    data: tuple[str, ...] = ()

    def covers(self, task: str, data: str) -> bool:
        return (not self.task or task in self.task) and (not self.data or data in self.data)


@dataclass(frozen=True)
class Change:
    """A factor moved from one level to another (levels as the YAML gives them)."""

    factor: str
    low: Any  # `from`
    high: Any  # `to`


@dataclass(frozen=True)
class Deciding:
    """One deciding effect. kind: main | simple | interaction | baseline."""

    metric: str
    kind: str
    sign: int  # +1: expected higher, -1: expected lower
    change: Change | None = None  # main, simple, interaction: the first factor's change
    within: dict[str, Any] = field(default_factory=dict)  # simple: the other factors' levels
    other: Change | None = None  # interaction: the second factor's change
    cell: dict[str, Any] = field(default_factory=dict)  # baseline: the cell compared with raw features
    reference: float | None = None  # a declared reference size
    margin: float | None = None  # metric units: an effect shown smaller than this either way is "no effect"
    optional: bool = False  # decides only when the report has it (a raw-feature baseline was logged)

    def levels(self) -> dict[str, list[Any]]:
        """Every level the effect names, per factor."""
        named: dict[str, list[Any]] = {}
        for c in (self.change, self.other):
            if c is not None:
                named.setdefault(c.factor, []).extend([c.low, c.high])
        for k, v in {**self.within, **self.cell}.items():
            named.setdefault(k, []).append(v)
        return named


@dataclass(frozen=True)
class Claim:
    id: str
    says: str
    effects: tuple[Deciding, ...]
    where: Where = Where()
    optional: bool = False
    source: str = ""


@dataclass(frozen=True)
class Reference:
    """Published values of one metric per cell, and the raw-feature baseline."""

    id: str
    metric: str
    cells: tuple[tuple[dict[str, Any], float, float], ...]  # (factor levels, mean, std)
    where: Where = Where()
    label: str = "reference"
    note: str = ""
    baseline: tuple[float, float] | None = None  # (mean, std)


def _fail(where: str, what: str) -> ConfigError:
    return ConfigError(f"{where}: {what}")


def _keys(node: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _fail(where, f"expected a mapping with keys {', '.join(allowed)}, got {node!r}")
    unknown = sorted(set(node) - set(allowed))
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(allowed)})")
    return node


def _where(node: Any, at: str) -> Where:
    node = _keys(node or {}, _WHERE_KEYS, f"{at}.where")

    def names(key: str) -> tuple[str, ...]:
        value = node.get(key) or ()
        return tuple(str(v) for v in (value if isinstance(value, (list, tuple)) else [value]))

    return Where(names("task"), names("data"))


def _change(node: dict[str, Any], at: str) -> Change:
    missing = [k for k in ("factor", "from", "to") if k not in node]
    if missing:
        raise _fail(at, f"missing {', '.join(missing)} (an effect moves a factor from one level to another)")
    return Change(str(node["factor"]), node["from"], node["to"])


def _deciding(node: Any, at: str) -> Deciding:
    node = _keys(node, _EFFECT_KEYS, at)
    if node.get("expect") not in EXPECT:
        raise _fail(f"{at}.expect", f"{node.get('expect')!r} is not allowed (allowed: higher, lower)")
    if not isinstance(node.get("metric"), str):
        raise _fail(f"{at}.metric", "missing (a metric's name, e.g. purity_mean)")
    ref = node.get("reference")
    common = dict(metric=node["metric"], sign=EXPECT[node["expect"]], optional=bool(node.get("optional", False)))
    common["reference"] = None if ref is None else _number(ref, f"{at}.reference")
    margin = node.get("margin")
    common["margin"] = None if margin is None else _number(margin, f"{at}.margin")
    if common["margin"] is not None and not (0 < common["margin"] < float("inf")):
        raise _fail(f"{at}.margin", f"{margin!r} is not allowed (allowed: a number > 0, in the metric's units)")
    if "baseline" in node:
        cell = node["baseline"]
        if not isinstance(cell, dict) or not cell:
            raise _fail(f"{at}.baseline", "the cell compared with raw features, e.g. {model.skip: false}")
        extra = sorted({"factor", "from", "to", "within", "interaction"} & set(node))
        if extra:
            raise _fail(
                f"{at}.{extra[0]}", "not with a baseline (a baseline effect compares one cell with raw features)"
            )
        return Deciding(kind="baseline", cell=dict(cell), **common)
    change = _change(node, at)
    if "interaction" in node:
        other = _change(_keys(node["interaction"], ("factor", "from", "to"), f"{at}.interaction"), f"{at}.interaction")
        return Deciding(kind="interaction", change=change, other=other, **common)
    within = node.get("within") or {}
    if not isinstance(within, dict) or len(within) > 1 or ("interaction" in node and within):
        raise _fail(f"{at}.within", "one other factor's level, e.g. {model.skip: false} (not with an interaction)")
    return Deciding(kind="simple" if within else "main", change=change, within=dict(within), **common)


def parse_claims(node: Any) -> list[Claim]:
    """The `claims:` mapping (id -> claim) as typed claims, in declaration order."""
    if not node:
        return []
    if not isinstance(node, dict):
        raise _fail("claims", "expected a mapping of claim ids to claims")
    out = []
    for cid, body in node.items():
        at = f"claims.{cid}"
        body = _keys(body, _CLAIM_KEYS, at)
        if not isinstance(body.get("says"), str) or not body["says"].strip():
            raise _fail(f"{at}.says", "missing (the claim's sentence)")
        effects = body.get("effects")
        if not isinstance(effects, list) or not effects:
            raise _fail(f"{at}.effects", "missing (a list of the effects that decide the claim)")
        decided = tuple(_deciding(e, f"{at}.effects[{i}]") for i, e in enumerate(effects))
        where, optional = _where(body.get("where"), at), bool(body.get("optional", False))
        out.append(Claim(str(cid), body["says"].strip(), decided, where, optional, str(body.get("source", ""))))
    return out


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _fail(where, f"{value!r} is not a number") from None


def _mean_std(node: dict[str, Any], where: str) -> tuple[float, float]:
    if "mean" not in node:
        raise _fail(f"{where}.mean", "missing (the published value)")
    return _number(node["mean"], f"{where}.mean"), _number(node.get("std", 0.0), f"{where}.std")


def parse_references(node: Any) -> list[Reference]:
    """The `references:` mapping (id -> table) as typed tables."""
    out = []
    for rid, body in (node or {}).items():
        at = f"references.{rid}"
        body = _keys(body, ("metric", "cells", "where", "label", "note", "baseline", "source"), at)
        cells = []
        for i, cell in enumerate(body.get("cells") or []):
            where = f"{at}.cells[{i}]"
            cell = _keys(cell, ("at", "mean", "std"), where)
            if not isinstance(cell.get("at"), dict) or not cell["at"]:
                raise _fail(f"{where}.at", "missing (the cell's factor levels, e.g. {model.skip: false})")
            cells.append((dict(cell["at"]), *_mean_std(cell, where)))
        base = body.get("baseline")
        baseline = None if base is None else _mean_std(_keys(base, ("mean", "std"), f"{at}.baseline"), f"{at}.baseline")
        metric, label, note = (
            str(body.get("metric", "")),
            str(body.get("label", "reference")),
            str(body.get("note", "")),
        )
        out.append(Reference(str(rid), metric, tuple(cells), _where(body.get("where"), at), label, note, baseline))
    return out


def same_level(declared: Any, seen: object) -> bool:
    """A level as the YAML gives it (false, 32, 1e-3) against a value as a run logged it ('False',
    '32', '0.001')."""
    a, b = str(declared).strip().lower(), str(seen).strip().lower()
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


# the claim set a report rebuilt from a store written before claims were declared is judged by: the
# primary config's default, conf/claims/unet.yaml. Its claims are scoped (the code before judged the
# article's claims on any task with both switches, segmentation included), so such a rebuilt report
# can differ from the one written then: the U-Net paper's claim on segmentation, the article's on
# autoencoding (claim 1 also on a grid of the skips alone), and the article's column on MNIST only
LEGACY_SET = "unet"


def load_set(name: str) -> dict[str, Any]:
    """A claim set shipped in ablate.conf (conf/claims/NAME.yaml) as plain data: claims, references."""
    text = resources.files("ablate.conf").joinpath("claims", f"{name}.yaml").read_text()
    node = OmegaConf.to_container(OmegaConf.create(text))
    return {"claims": node.get("claims") or {}, "references": node.get("references") or {}}
