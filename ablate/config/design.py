"""Ablation designs: which arms a sweep trains, from its components and the design's name.

The components are the keys the command sweeps (`model.skip=true,false`: the key and its levels,
the first level listed being the reference, "with" for a switch). The design picks arms among
the combinations of their levels:
- `full`: every combination (Hydra's grid);
- `leave_one_out`: the reference arm (every component at its first level), then one arm per
  component switched to its second level ("the full model without X");
- `add_one_in`: the baseline arm (every component at its second level), then one arm per component
  switched to its first level ("the baseline plus X alone");
- `one_at_a_time`: the reference arm, then each component through each of its other levels while
  the rest stay at the reference (components may have more than two levels);
- `fractional`: a regular 2^(k-p) fraction of the two-level grid, its generators from the standard
  table below; the arms are the grid's cells (in grid order) where every generator's word has the
  product +1 (first level = +1), so the reference arm is always one of them.

Pure code on names and levels: the sweeper expands jobs with it (ablate/sweep/design.py), the
report reads the design back from the sweep's parent run to know which cells exist and which
effects are confounded (ablate/report/effects.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ablate.config.checks import ConfigError

ARMS = "arms"  # the key of the resolved design in the study the parent run keeps
DESIGNS = ("full", "leave_one_out", "add_one_in", "one_at_a_time", "fractional")
TWO_LEVELS = ("leave_one_out", "add_one_in", "fractional")  # designs of switches: two levels each
LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # factor letters of the design literature (no I: it is the identity)
ROMAN = {3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII"}

# Generators of the standard 2^(k-p) fractions (k components, p generators): Box, Hunter & Hunter,
# Statistics for Experimenters (2nd ed., 2005), table 6.22, as in the NIST/SEMATECH e-Handbook of
# Statistical Methods, section 5.3.3.4.7. The first k - p factors form a full grid; each generator
# gives one more factor's level as the product of the named factors' levels. tests/test_design.py
# checks each design's resolution against the one listed here.
GENERATORS: dict[tuple[int, int], tuple[tuple[str, ...], int]] = {
    (3, 1): (("C=AB",), 3),
    (4, 1): (("D=ABC",), 4),
    (5, 1): (("E=ABCD",), 5),
    (5, 2): (("D=AB", "E=AC"), 3),
    (6, 1): (("F=ABCDE",), 6),
    (6, 2): (("E=ABC", "F=BCD"), 4),
    (6, 3): (("D=AB", "E=AC", "F=BC"), 3),
    (7, 1): (("G=ABCDEF",), 7),
    (7, 2): (("F=ABCD", "G=ABDE"), 4),
    (7, 3): (("E=ABC", "F=BCD", "G=ACD"), 4),
    (7, 4): (("D=AB", "E=AC", "F=BC", "G=ABC"), 3),
    (8, 2): (("G=ABCD", "H=ABEF"), 5),
    (8, 3): (("F=ABC", "G=ABD", "H=BCDE"), 4),
    (8, 4): (("E=BCD", "F=ACD", "G=ABC", "H=ABD"), 4),
    (9, 2): (("H=ACDFG", "J=BCEFG"), 6),
    (9, 3): (("G=ABCD", "H=ACEF", "J=CDEF"), 4),
    (9, 4): (("F=BCDE", "G=ACDE", "H=ABDE", "J=ABCE"), 4),
    (9, 5): (("E=ABC", "F=BCD", "G=ACD", "H=ABD", "J=ABCD"), 3),
    (10, 3): (("H=ABCG", "J=BCDE", "K=ACDF"), 5),
    (10, 4): (("G=BCDF", "H=ACDF", "J=ABDE", "K=ABCE"), 4),
    (10, 5): (("F=ABCD", "G=ABCE", "H=ABDE", "J=ACDE", "K=BCDE"), 4),
    (10, 6): (("E=ABC", "F=BCD", "G=ACD", "H=ABD", "J=ABCD", "K=AB"), 3),
    (11, 4): (("H=ABCG", "J=BCDE", "K=ACDF", "L=ABCDEFG"), 5),
    (11, 5): (("G=CDE", "H=ABCD", "J=ABF", "K=BDEF", "L=ADEF"), 4),
    (11, 6): (("F=ABC", "G=BCD", "H=CDE", "J=ACD", "K=ADE", "L=BDE"), 4),
    (11, 7): (("E=ABC", "F=BCD", "G=ACD", "H=ABD", "J=ABCD", "K=AB", "L=AC"), 3),
}


@dataclass
class DesignConfig:
    """The `design` node (conf/design/NAME.yaml: `design=fractional design.resolution=4`). Which
    arms a sweep trains; never what one computes (a fraction's arm is the grid's run, reused)."""

    name: str = "full"
    p: int | None = None  # fractional: 2^(k-p) arms; null: the largest p that keeps `resolution`
    resolution: int | None = None  # fractional: at least this (3, 4, 5, ...); null: the table's for p

    def __post_init__(self) -> None:
        if self.name not in DESIGNS:
            raise ConfigError(f"design.name={self.name} is not allowed (allowed: {', '.join(DESIGNS)})")
        for key in ("p", "resolution"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"design.{key}={value} is not allowed (allowed: a positive integer, or null)")
            if value is not None and self.name != "fractional":
                raise ConfigError(f"design.{key}={value} is a setting of design=fractional (design={self.name})")


@dataclass(frozen=True)
class Component:
    """A swept config key and its levels as the command line gives them (the first: the reference)."""

    key: str
    levels: tuple[str, ...]


@dataclass
class Arms:
    """A design over its components: the arms (one level per component each), and for a fraction
    its generators and defining relation."""

    name: str
    components: tuple[Component, ...]
    rows: list[tuple[str, ...]]
    generators: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # the defining relation: I = each word (letters of components)
    resolution: int | None = None  # a fraction's: the shortest word's length

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.components]

    def letter(self, key: str) -> str:
        return LETTERS[self.keys.index(key)]

    def key_of(self, letter: str) -> str:
        return self.keys[LETTERS.index(letter)]

    def aliases(self, word: str) -> list[str]:
        """The effects (as words) confounded with `word` in this fraction, shortest first."""
        found = {_times(word, w) for w in self.words}
        return sorted(found, key=lambda w: (len(w), w))

    def as_dict(self) -> dict:
        comps = [[c.key, list(c.levels)] for c in self.components]
        return {"name": self.name, "components": comps, "generators": list(self.generators)}

    def summary(self) -> str:
        """One line for people (the parent run's ablate.design tag): 'fractional 2^(4-1) IV: D=ABC'."""
        if self.name != "fractional":
            return f"{self.name}: {len(self.rows)} arms over {', '.join(self.keys) or 'no swept key'}"
        k, p = len(self.components), len(self.generators)
        return f"fractional 2^({k}-{p}) resolution {roman(self.resolution)}: {', '.join(self.generators)}"


def why_not(arms: Arms, effect) -> str | None:
    """Why this design does not estimate a claim's deciding effect (ablate/config/claims.py's
    Deciding; None: it does). Levels are matched as the claims match them (same_level)."""
    from ablate.config.claims import same_level

    comps = {c.key: c for c in arms.components}
    if effect.kind == "baseline":
        cell = effect.cell
        hit = any(
            all(k in cell and same_level(cell[k], level) for k, level in zip(arms.keys, row, strict=True))
            for row in arms.rows
        )
        return None if hit else f"the cell {cell} is not an arm of design={arms.name}"
    moved = [c.factor for c in (effect.change, effect.other) if c is not None]
    if any(f not in comps for f in moved):
        return None  # not a component: the claims' own check says what is wrong
    change = effect.change
    first = comps[change.factor].levels[0]
    names_ref = same_level(change.low, first) or same_level(change.high, first)
    if arms.name == "full":
        if effect.kind == "main" and len(comps[change.factor].levels) > 2 and not names_ref:
            return (
                f"{change.factor} has {len(comps[change.factor].levels)} levels: its levels are compared with "
                f"the reference, {change.factor}={first} (allowed: from or to {first})"
            )
        return None
    if arms.name != "fractional":
        if effect.kind != "main":
            return f"design={arms.name} estimates each component's own effect, no {effect.kind} effect (allowed: main)"
        if arms.name == "one_at_a_time" and not names_ref:
            return (
                f"design=one_at_a_time compares {change.factor} with its reference, {first} "
                f"(allowed: from or to {first})"
            )
        return None
    if effect.kind == "simple":
        return "a fraction estimates no simple effect (allowed: main effects, interactions at resolution V)"
    if effect.kind == "interaction":
        word = "".join(sorted((arms.letter(f) for f in moved), key=LETTERS.index))
        confounded = [w for w in arms.aliases(word) if len(w) <= 2]
        if confounded:
            names = " and ".join(" × ".join(arms.key_of(x) for x in w) for w in confounded)
            return (
                f"{' × '.join(moved)} is confounded with {names} in this resolution {roman(arms.resolution)} "
                "fraction (allowed: main effects; interactions at resolution V)"
            )
    return None


def roman(resolution: int | None) -> str:
    return ROMAN.get(resolution or 0, str(resolution))


def _times(a: str, b: str) -> str:
    """The product of two effect words (squares vanish: A*A = I)."""
    return "".join(sorted(set(a) ^ set(b), key=LETTERS.index))


def defining_relation(generators: tuple[str, ...]) -> tuple[str, ...]:
    """Every word of the defining relation I = ...: each generator `D=ABC` gives the word ABCD; all
    products of them, shortest first."""
    base = [_times(g.split("=")[0], g.split("=")[1]) for g in generators]
    words = set()
    for r in range(1, len(base) + 1):
        for combo in itertools.combinations(base, r):
            word = ""
            for w in combo:
                word = _times(word, w)
            words.add(word)
    return tuple(sorted(words, key=lambda w: (len(w), w)))


def _fraction(k: int, p: int | None, resolution: int | None) -> tuple[int, tuple[str, ...], int]:
    """(p, generators, resolution) for k switches: the table's design for p, or the smallest the
    table has at the resolution asked for."""
    wanted = resolution or 0
    if k < 3:
        raise ConfigError(f"design=fractional needs at least 3 components, this sweep has {k} (allowed: design=full)")
    if resolution is not None and not 3 <= resolution <= k:
        raise ConfigError(
            f"design.resolution={resolution} is impossible with {k} components (allowed: design.resolution=3 to "
            f"{k}; III: main effects clear of each other, IV: also of two-factor interactions; design=fractional "
            "asks for IV unless told)"
        )
    known = sorted(q for kk, q in GENERATORS if kk == k)
    if not known:
        raise ConfigError(f"design=fractional: no standard fraction for {k} components (allowed: 3 to 11)")
    if p is None:
        fits = [q for q in known if GENERATORS[(k, q)][1] >= wanted]
        if not fits:
            best = GENERATORS[(k, known[0])][1]
            raise ConfigError(
                f"design.resolution={resolution} is impossible for a fraction of {k} components in the standard "
                f"table: its largest, 2^({k}-{known[0]}), has resolution {roman(best)} (allowed: design.resolution "
                f"<= {best}, or design=full)"
            )
        p = max(fits)
    if (k, p) not in GENERATORS:
        raise ConfigError(f"design.p={p} is not allowed with {k} components (allowed: {', '.join(map(str, known))})")
    generators, res = GENERATORS[(k, p)]
    if res < wanted:
        fits = [q for q in known if GENERATORS[(k, q)][1] >= wanted]
        allowed = f"design.p <= {max(fits)}" if fits else "design=full"
        raise ConfigError(
            f"design.resolution={resolution} is impossible with {k} components and design.p={p}: the 2^({k}-{p}) "
            f"fraction has resolution {roman(res)} (allowed: design.resolution <= {res}, or {allowed})"
        )
    return p, generators, res


def arms(name: str, components: list[Component], p: int | None = None, resolution: int | None = None) -> Arms:
    """The design's arms over its components; one line (ConfigError) when it cannot be built."""
    comps = tuple(components)
    if not comps and name != "full":  # a grid of nothing swept is one arm
        raise ConfigError(
            f"design={name} needs components: keys swept with comma lists (e.g. model.skip=true,false "
            "model.bottleneck=true,false)"
        )
    if name in TWO_LEVELS:
        for c in comps:
            if len(c.levels) != 2:
                raise ConfigError(
                    f"design={name}: {c.key} has {len(c.levels)} levels ({','.join(c.levels)}; allowed: 2, "
                    "with first and without second; design=one_at_a_time or full for more)"
                )
    ref = tuple(c.levels[0] for c in comps)
    if name == "full":
        rows = list(itertools.product(*(c.levels for c in comps)))
        return Arms(name, comps, rows)
    if name in ("leave_one_out", "one_at_a_time"):
        rows = [ref]
        for i, c in enumerate(comps):
            rows += [ref[:i] + (level,) + ref[i + 1 :] for level in c.levels[1:]]
        return Arms(name, comps, rows)
    if name == "add_one_in":
        base = tuple(c.levels[1] for c in comps)
        return Arms(name, comps, [base] + [base[:i] + (c.levels[0],) + base[i + 1 :] for i, c in enumerate(comps)])
    _, generators, _ = _fraction(len(comps), p, resolution)
    return _fractional(comps, generators)


def _fractional(comps: tuple[Component, ...], generators: tuple[str, ...]) -> Arms:
    """The grid's cells (in grid order: the first component slowest) where every word of the
    defining relation has the product +1 (a first level counts +1)."""
    words = defining_relation(generators)
    signs = itertools.product((1, -1), repeat=len(comps))
    keep = [s for s in signs if all(_sign(s, w) == 1 for w in words)]
    rows = [tuple(c.levels[0 if x == 1 else 1] for c, x in zip(comps, s, strict=True)) for s in keep]
    return Arms("fractional", comps, rows, generators, words, len(words[0]))


def _sign(signs: tuple[int, ...], word: str) -> int:
    out = 1
    for letter in word:
        out *= signs[LETTERS.index(letter)]
    return out


def from_dict(node: dict) -> Arms:
    """The design a sweep's parent run recorded (Arms.as_dict), rebuilt."""
    comps = [Component(k, tuple(levels)) for k, levels in node["components"]]
    if node["name"] != "fractional":
        return arms(node["name"], comps)
    return _fractional(tuple(comps), tuple(node["generators"]))
