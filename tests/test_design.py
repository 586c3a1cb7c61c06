"""Designs beyond the grid (ablate/config/design.py, ablate/sweep/design.py): the arms each design
picks, the standard fractions' resolutions and aliases, and the jobs a command expands to."""

from __future__ import annotations

import itertools

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import given
from hypothesis import strategies as st

from ablate.config import ConfigError
from ablate.config.claims import Change, Deciding
from ablate.config.design import GENERATORS, LETTERS, Component, arms, defining_relation, from_dict, why_not
from ablate.sweep.design import components, jobs

SWITCHES = [Component(k, ("true", "false")) for k in ("a", "b", "c", "d")]


def _parse(*lines: str):
    return OverridesParser.create().parse_overrides(list(lines))


@pytest.mark.parametrize(("k", "p"), sorted(GENERATORS))
def test_each_standard_fraction_has_its_listed_resolution_and_size(k, p):
    generators, resolution = GENERATORS[(k, p)]
    words = defining_relation(generators)
    assert len(words) == 2**p - 1
    assert min(len(w) for w in words) == resolution
    design = arms("fractional", [Component(f"k{i}", ("x", "y")) for i in range(k)], p=p)
    assert len(design.rows) == 2 ** (k - p) == len(set(design.rows))
    # orthogonal: every pair of components sees each of its four level pairs equally often
    for i, j in itertools.combinations(range(k), 2):
        counts = {pair: 0 for pair in itertools.product("xy", repeat=2)}
        for row in design.rows:
            counts[(row[i], row[j])] += 1
        assert len(set(counts.values())) == 1


def test_half_fraction_of_four_switches_is_resolution_iv_with_the_textbook_aliases():
    design = arms("fractional", SWITCHES, resolution=4)
    assert design.generators == ("D=ABC",) and design.words == ("ABCD",) and design.resolution == 4
    assert [design.aliases(w) for w in ("A", "B", "C", "D")] == [["BCD"], ["ACD"], ["ABD"], ["ABC"]]
    assert design.aliases("AB") == ["CD"] and design.aliases("AC") == ["BD"] and design.aliases("AD") == ["BC"]
    assert design.rows[0] == ("true",) * 4  # the reference arm is one of the fraction's
    assert len(design.rows) == 8
    assert from_dict(design.as_dict()).rows == design.rows


def test_leave_one_out_add_one_in_and_one_at_a_time_arms():
    loo = arms("leave_one_out", SWITCHES[:3])
    assert loo.rows == [("true",) * 3, ("false", "true", "true"), ("true", "false", "true"), ("true", "true", "false")]
    add = arms("add_one_in", SWITCHES[:3])
    assert add.rows == [
        ("false",) * 3,
        ("true", "false", "false"),
        ("false", "true", "false"),
        ("false", "false", "true"),
    ]
    oat = arms("one_at_a_time", [Component("w", ("16", "8", "32")), SWITCHES[0]])
    assert oat.rows == [("16", "true"), ("8", "true"), ("32", "true"), ("16", "false")]
    assert len(arms("full", SWITCHES).rows) == 16


@given(st.integers(3, 11), st.data())
def test_aliases_are_symmetric_and_products_of_the_defining_relation(k, data):
    p = data.draw(st.sampled_from(sorted(q for kk, q in GENERATORS if kk == k)))
    design = arms("fractional", [Component(f"k{i}", ("x", "y")) for i in range(k)], p=p)
    word = "".join(sorted(data.draw(st.sets(st.sampled_from(LETTERS[:k]), min_size=1, max_size=3)), key=LETTERS.index))
    for alias in design.aliases(word):
        assert word in design.aliases(alias)
    # resolution R: no main effect is confounded with an effect of fewer than R - 1 factors
    for letter in LETTERS[:k]:
        assert all(len(a) >= design.resolution - 1 for a in design.aliases(letter))


@pytest.mark.parametrize(
    ("name", "comps", "options", "message"),
    [
        ("fractional", SWITCHES, {"resolution": 5}, "design.resolution=5 is impossible"),
        ("fractional", SWITCHES, {"p": 1, "resolution": 5}, "design.resolution=5 is impossible"),
        ("fractional", SWITCHES, {"p": 2}, "design.p=2 is not allowed with 4 components (allowed: 1)"),
        ("fractional", SWITCHES[:2], {}, "design=fractional needs at least 3 components"),
        ("fractional", [*SWITCHES[:3], Component("w", ("1", "2", "3"))], {}, "w has 3 levels"),
        ("leave_one_out", [Component("w", ("1", "2", "3"))], {}, "design=leave_one_out: w has 3 levels"),
        ("leave_one_out", [], {}, "design=leave_one_out needs components"),
    ],
)
def test_a_design_that_cannot_be_built_is_one_line(name, comps, options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        arms(name, comps, **options)


def test_jobs_cross_the_design_with_seeds_and_keep_the_basic_sweepers_order():
    parsed = _parse("model.skip=true,false", "model.bottleneck=true,false", "seed=0,1", "trainer.epochs=2")
    assert [c.key for c in components(parsed)] == ["model.skip", "model.bottleneck"]
    full = jobs(parsed, "full")
    assert full[0] == ["model.skip=True", "model.bottleneck=True", "seed=0", "trainer.epochs=2"]  # Hydra's spelling
    assert len(full) == 8 and len({tuple(j) for j in full}) == 8
    loo = jobs(parsed, "leave_one_out")
    assert len(loo) == 6  # 3 arms x 2 seeds
    assert {tuple(j) for j in loo} <= {tuple(j) for j in full}
    assert ["model.skip=False", "model.bottleneck=False", "seed=0", "trainer.epochs=2"] not in loo


def test_the_command_line_wins_over_the_sweep_files_grid():
    parsed = _parse("model.skip=true,false", "model.bottleneck=true,false", "model.skip=false,true")
    assert components(parsed)[0] == Component("model.skip", ("False", "True"))
    # a key the sweep file sweeps and the command line pins is no component: one value, every arm
    pinned = _parse("model.skip=true,false", "model.bottleneck=true,false", "model.skip=false")
    assert [c.key for c in components(pinned)] == ["model.bottleneck"]
    assert jobs(pinned, "leave_one_out") == [
        ["model.skip=False", "model.bottleneck=True"],
        ["model.skip=False", "model.bottleneck=False"],
    ]


def test_a_design_key_is_not_a_component():
    with pytest.raises(ConfigError, match=r"design.p: a sweep has one design \(allowed: one value, e.g. design.p=1\)"):
        components(_parse("model.skip=true,false", "design.p=1,2"))


def test_which_claims_a_design_can_decide():
    main = Deciding("purity_mean", "main", 1, Change("a", "false", "true"))
    within = Deciding("purity_mean", "simple", 1, Change("a", "false", "true"), within={"b": "true"})
    inter = Deciding("purity_mean", "interaction", 1, Change("a", "false", "true"), other=Change("b", "false", "true"))
    loo = arms("leave_one_out", SWITCHES)
    assert why_not(loo, main) is None
    assert "no simple effect" in why_not(loo, within) and "no interaction effect" in why_not(loo, inter)
    iv = arms("fractional", SWITCHES, resolution=4)
    assert why_not(iv, main) is None
    assert "a × b is confounded with c × d" in why_not(iv, inter)
    v = arms("fractional", [*SWITCHES, Component("e", ("true", "false"))], resolution=5)
    assert why_not(v, inter) is None
    three = arms("full", [Component("a", ("16", "8", "32")), SWITCHES[1]])
    assert why_not(three, Deciding("m", "main", 1, Change("a", "8", "32"))).startswith("a has 3 levels")
    assert why_not(three, Deciding("m", "main", 1, Change("a", "16", "32"))) is None
