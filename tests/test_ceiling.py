"""Raising a ceiling retrains only what had not converged.

Under `trainer.stop=converged` a replicate that converged at epoch k trained the same epochs under
any ceiling of k or more, so `trainer.epochs` is not part of its fingerprint: the same command with
another ceiling reuses each finished run that suits it (converged at k <= the new ceiling; or
stopped by the very same ceiling) and trains the others, as a report with unconverged arms
suggests. A replicate stopped by a lower ceiling goes on from that ceiling's kept checkpoint, to
the numbers training from scratch gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient

from ablate.job.stopping import reached, reusable

RULE = "(the last 1 epochs improve the best eval loss by at most 10% of its descent since epoch 1)"


@given(k=st.integers(1, 10_000), ceiling=st.integers(1, 10_000))
def test_a_converged_run_suits_every_ceiling_from_its_stop_and_a_capped_one_only_its_own(k, ceiling):
    assert reusable(f"converged at epoch {k} {RULE}", ceiling) == (k <= ceiling)
    assert reusable(f"ceiling: trainer.epochs={k} reached before converging", ceiling) == (k == ceiling)
    assert reusable(f"converged at epoch {k} {RULE}", None)  # trainer.stop=epochs: the fingerprint decides
    assert not reusable(None, ceiling) and not reusable("trainer.stop=epochs", ceiling)
    assert reached(f"ceiling: trainer.epochs={k} reached before converging") == k
    assert reached(f"converged at epoch {k} {RULE}") is None and reached("trainer.stop=epochs") is None


# seeds 0, 1, 2 stop at epochs 7, 6, 9 under these settings (tests/test_stop.py); the test reads the
# stops from the runs, and only needs some below the lower ceiling and some above it
ARGS = ["data.limit=300", "trainer.batch_size=32", "trainer.progress=false", "eval.kmeans_seeds=2",
        "eval.n_init=1", "trainer.snapshots=2", "replicates=3", "trainer.pack=1", "hydra/job_logging=disabled",
        "trainer.stop=converged", "trainer.patience=1", "trainer.min_delta=0.1", "trainer.threads=1"]  # fmt: skip


def _runs(client: MlflowClient) -> list:
    return client.search_runs([client.get_experiment_by_name("ablate").experiment_id])


@pytest.mark.slow  # three runs of three replicates, up to 10 epochs each (~40 s)
def test_a_lower_then_a_higher_ceiling_reuse_every_run_that_suits_them(ablate_cli, launch_dir):
    code, _, err = ablate_cli(*ARGS, "trainer.epochs=10")
    assert code == 0, err
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    first = {r.data.params["seed"]: r for r in _runs(client)}
    stops = {seed: int(r.data.metrics["stop_epoch"]) for seed, r in first.items()}
    assert all(r.data.tags["ablate.stop"].startswith("converged at epoch") for r in first.values()), stops
    lower = 8
    assert min(stops.values()) <= lower < max(stops.values()), stops  # some suit the lower ceiling, some not

    code, out, err = ablate_cli(*ARGS, f"trainer.epochs={lower}")
    assert code == 0, err
    after = _runs(client)
    new = [r for r in after if r.info.run_id not in {f.info.run_id for f in first.values()}]
    # only the replicates that converged after the lower ceiling trained again, and stopped at it
    assert sorted(r.data.params["seed"] for r in new) == sorted(s for s, k in stops.items() if k > lower), out
    for run in new:
        assert run.data.tags["ablate.stop"] == f"ceiling: trainer.epochs={lower} reached before converging"
        assert run.data.metrics["stop_epoch"] == lower
    reused = [s for s, k in stops.items() if k <= lower]
    assert all(first[s].info.run_id in out for s in reused), out  # "skipped: reusing runs ..."

    # a higher ceiling than the first: every replicate had converged below it, nothing trains
    code, out, err = ablate_cli(*ARGS, "trainer.epochs=12")
    assert code == 0, err
    assert len(_runs(client)) == len(after), out
    assert all(first[s].info.run_id in out for s in stops), out


def test_the_ceiling_leaves_the_fingerprint_only_under_converged_and_never_the_checkpoint_folder(tmp_path):
    from ablate.job.fingerprint import fingerprint
    from ablate.job.resume import folder_of

    def fp(stop: str, epochs: int) -> str:
        return fingerprint({"trainer.stop": stop, "trainer.epochs": epochs, "seed": 0}, "code", "data")

    assert fp("converged", 100) == fp("converged", 200)  # a converged replicate: the same run
    assert fp("epochs", 4) != fp("epochs", 8)  # trainer.stop=epochs trains to its epochs
    # a killed run resumes only under the ceiling it trained for
    assert folder_of(tmp_path, fp("converged", 100), 100) != folder_of(tmp_path, fp("converged", 100), 200)
    assert folder_of(tmp_path, fp("epochs", 4), None) == tmp_path / fp("epochs", 4)


def test_the_speed_metrics_of_converged_runs_are_censored_at_one_ceiling():
    from ablate.report.collect import _converged_ceiling

    runs = [{"params": {"trainer.stop": "converged", "trainer.epochs": e}} for e in ("100", "200")]
    assert _converged_ceiling([*runs, {"params": {"trainer.stop": "epochs", "trainer.epochs": "500"}}]) == 200


def test_sweeping_the_ceiling_under_converged_is_refused(ablate_cli, launch_dir):
    code, out, err = ablate_cli("-m", "trainer.epochs=10,12", *ARGS)
    assert code == 2 and err.strip().count("\n") == 0, err
    assert err.startswith("error: trainer.epochs=10,12 with trainer.stop=converged: the ceiling is no factor"), err
    assert "(allowed: one trainer.epochs; trainer.stop=epochs to compare training lengths)" in err
    assert not (launch_dir / "mlflow.db").exists()


def _finished(launch_dir, ceiling: int) -> dict:
    """{seed: the FINISHED run} trained under `ceiling`."""
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    runs = [r for r in _runs(client) if r.info.status == "FINISHED" and r.data.params["trainer.epochs"] == str(ceiling)]
    return {r.data.params["seed"]: r for r in runs}


def _numbers(launch_dir, run) -> tuple:
    """What a run computed: its final metrics (not its timings) and its per-epoch curves."""
    from ablate.tracking.store import Tracker

    tracker = Tracker(f"sqlite:///{launch_dir / 'mlflow.db'}")
    final = {k: v for k, v in run.data.metrics.items() if not k.endswith("seconds") and k != "epoch_cost_s"}
    curves = {k: tracker.history(run.info.run_id, k) for k in ("train_loss", "eval_loss", "psnr", "ssim")}
    return final, curves, run.data.tags["ablate.stop"]


@pytest.mark.slow  # three replicates to a ceiling of 5, on to 10; and from scratch to 10 (~45 s)
def test_a_run_stopped_by_a_lower_ceiling_goes_on_from_its_checkpoint_to_the_same_numbers(ablate_cli, tmp_path):
    import os

    scratch, raised = tmp_path / "scratch", tmp_path / "raised"
    scratch.mkdir(), raised.mkdir()
    os.chdir(scratch)
    assert ablate_cli(*ARGS, "trainer.epochs=10")[0] == 0
    fresh = _finished(scratch, 10)
    assert all(int(r.data.metrics["stop_epoch"]) > 5 for r in fresh.values())  # none converges by 5

    os.chdir(raised)
    assert ablate_cli(*ARGS, "trainer.epochs=5")[0] == 0
    capped = _finished(raised, 5)
    assert {r.data.tags["ablate.stop"] for r in capped.values()} == {
        "ceiling: trainer.epochs=5 reached before converging"
    }
    kept = sorted((raised / "checkpoints").glob("*-ceiling5/*.pt"))
    assert [p.name for p in kept] == ["kept.pt"] * 3  # each one's last checkpoint, for a higher ceiling

    # a kept checkpoint is never resumed as a killed run's: under another experiment (no finished
    # run to go on from) the same ceiling trains from scratch, to the same numbers
    code, out, err = ablate_cli(*ARGS, "trainer.epochs=5", "tracking.experiment=other")
    assert code == 0 and "seeds 0, 1, 2 trained" in out, out
    assert len(kept) == len(list((raised / "checkpoints").glob("*-ceiling5/kept.pt")))

    code, out, err = ablate_cli(*ARGS, "trainer.epochs=10")
    assert code == 0, err
    assert "seeds 0, 1, 2 went on from epoch 5 (a lower ceiling's)" in out, out
    went_on = _finished(raised, 10)
    for seed, run in went_on.items():
        assert run.data.tags["ablate.continued_from"] == capped[seed].info.run_id
        assert run.info.run_id != capped[seed].info.run_id  # the finished run stays as it was
        assert _numbers(raised, run) == _numbers(scratch, fresh[seed])  # bit for bit: curves from epoch 1
    assert not list((raised / "checkpoints").glob("*-ceiling*"))  # converged: no checkpoint is left
    assert _finished(raised, 5).keys() == capped.keys()

    code, out, err = ablate_cli(*ARGS, "trainer.epochs=10")  # again: every replicate is done
    assert code == 0, err
    assert "seeds 0, 1, 2 skipped" in out and len(_finished(raised, 10)) == 3
