"""The convergence rule and the speed metrics: pure functions of an eval-loss curve."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ablate.engine.convergence import Rule
from ablate.evaluate.speed import epochs_to_loss, loss_auc

curves = st.lists(st.floats(0.01, 1e4, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(losses=curves, scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3),
       patience=st.integers(1, 12), delta=st.floats(0, 0.5))  # fmt: skip
def test_the_rule_reads_the_curve_in_its_own_units(losses, scale, shift, patience, delta):
    """The same answer for a loss in any unit and offset: it compares the last gain with the descent."""
    rule = Rule(patience, delta)
    moved = [scale * x + shift for x in losses]
    tol = 1e-9 * max(1.0, *map(abs, moved))
    before = min(losses[:-patience]) if len(losses) > patience else None
    borderline = (
        before is not None
        and abs((before - min(losses[-patience:])) - delta * max(0.0, losses[0] - before)) <= tol / scale
    )
    if not borderline:
        assert rule.holds(losses) == rule.holds(moved)
    assert rule.holds(losses[:patience]) is False  # needs patience + 1 epochs


@given(losses=curves, patience=st.integers(1, 12))
def test_first_is_where_a_converged_run_stops(losses, patience):
    rule = Rule(patience, 0.01)
    stop = rule.first(losses)
    if stop is None:
        assert not any(rule.holds(losses[:e]) for e in range(1, len(losses) + 1))
    else:
        assert rule.holds(losses[:stop]) and not any(rule.holds(losses[:e]) for e in range(1, stop))


def test_a_flat_tail_converges_and_a_steady_fall_does_not():
    rule = Rule(10, 0.002)
    falling = [100 * 0.9**e for e in range(40)]  # 10% a epoch: still learning
    assert rule.first(falling) is None
    flat = [100, 50, 20, 10] + [9.99] * 12
    assert rule.first(flat) == 14  # the first epoch whose last 10 gained nothing
    assert not rule.holds([100, 50, float("nan")] + [9.99] * 12)


def test_speed_metrics():
    assert loss_auc([4.0, 2.0, 1.0], horizon=5, ceiling=10) == (4 + 2 + 1 + 1 + 1) / 5  # stopped early: kept
    assert loss_auc([4.0, 2.0, 1.0], horizon=5, ceiling=3) == 7 / 3  # a shorter sweep: its ceiling
    assert math.isnan(loss_auc([], 5, 5))
    assert epochs_to_loss([9.0, 5.0, 2.0], threshold=5.0, ceiling=10) == 2
    assert epochs_to_loss([9.0, 8.0], threshold=5.0, ceiling=10) == 11  # never: censored at ceiling + 1
