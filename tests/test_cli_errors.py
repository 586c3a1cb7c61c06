"""Bad input: one line naming the key, the value and what is allowed, exit 2 in single and `-m`
mode alike, and nothing written: the launch directory holds what it held before."""

import os
import sys

import pytest

CASES = [
    # types and choices
    (["model.skip=maybe"], "model.skip", "allowed: true, false"),
    # OmegaConf turns any integer into a bool: an integer for a boolean key is refused
    (["model.bottleneck=2"], "model.bottleneck=2 is not allowed", "allowed: true, false"),
    (["model.skip=0"], "model.skip=0 is not allowed", "allowed: true, false"),
    (["seed=abc"], "seed", "an integer"),
    (["trainer.device=gpu"], "trainer.device", "auto, cpu, cuda"),
    (["trainer.optimizer=lbfgs"], "trainer.optimizer", "adam, sgd"),
    (["trainer.precision=fp8"], "trainer.precision=fp8", "auto, fp32, bf16"),
    (["trainer.pack=0"], "trainer.pack=0", "auto, or an integer >= 1"),
    (["data=nope"], "data=nope: no such option", "mnist5k"),
    (["model=nope"], "model=nope: no such option", "mnist, stl"),
    (["sweep=article_purty"], "sweep=article_purty: no such named sweep", "article_purity"),
    (["claims=nope"], "claims=nope: no such option", "none, unet"),
    # a malformed claim (ablate/config/claims.py): a single run judges none, but says so too
    (["claims.skips_train_faster.effects.0.expect=up"], "claims.skips_train_faster.effects[0].expect", "higher, lower"),
    (["claims.skips_train_faster.effects=[]"], "claims.skips_train_faster.effects: missing", "a list of the effects"),
    # unknown keys, at any depth (a `+` opens the node to Hydra: the schema still says no)
    (["+foo=1"], "foo: unknown key", "trainer"),
    (["model.foo=1"], "model.foo: unknown key", "skip, bottleneck"),
    (["+model.skp=1"], "model.skp: unknown key", "bottleneck_dim"),
    (["+trainer.epoch=50"], "trainer.epoch: unknown key", "epochs"),
    (["+eval.kmeans_seed=3"], "eval.kmeans_seed: unknown key", "kmeans_seeds"),
    (["+tracking.uir=x"], "tracking.uir: unknown key", "uri"),
    # ranges, nan and inf
    (["trainer.epochs=0"], "trainer.epochs=0", "allowed: 1 to 100000"),
    (["trainer.epochs=99999999999999999999"], "trainer.epochs=99999999999999999999", "1 to 100000"),
    (["trainer.lr=-1"], "trainer.lr=-1.0", "finite number > 0"),
    (["trainer.lr=nan"], "trainer.lr=nan", "finite number > 0"),
    (["trainer.lr=inf"], "trainer.lr=inf", "finite number > 0"),
    (["trainer.momentum=nan"], "trainer.momentum=nan", "allowed: 0 to 1"),
    (["trainer.momentum=2"], "trainer.momentum=2.0", "allowed: 0 to 1"),
    (["trainer.weight_decay=-inf"], "trainer.weight_decay=-inf", "allowed: 0 to inf"),
    (["trainer.batch_size=0"], "trainer.batch_size", "allowed: 1 to"),
    (["trainer.snapshots=0"], "trainer.snapshots=0", "allowed: 1 to"),
    (["trainer.threads=0"], "trainer.threads=0", "allowed: 1 to"),
    (["eval.kmeans_seeds=0"], "eval.kmeans_seeds", "allowed: 1 to 1000"),
    (["eval.kmeans_seeds=100000"], "eval.kmeans_seeds=100000", "allowed: 1 to 1000"),
    (["eval.n_init=0"], "eval.n_init=0", "allowed: 1 to 1000"),
    (["seed=-1"], "seed=-1", "allowed: 0 <= seed"),
    (["seed=99999999999"], "seed=99999999999", "allowed: 0 <= seed"),
    (["replicates=0"], "replicates=0", "allowed: 1 to 10000"),
    (["replicates=100000"], "replicates=100000", "allowed: 1 to 10000"),
    (["data.limit=0"], "data.limit=0", "allowed: 1 to"),
    # how long, and how many seeds (trainer.stop=converged, replicates=auto)
    (["trainer.stop=forever"], "trainer.stop=forever", "allowed: epochs, converged"),
    (["trainer.patience=0"], "trainer.patience=0", "allowed: 1 to"),
    (["trainer.min_delta=-0.1"], "trainer.min_delta=-0.1", "allowed: 0 to 1"),
    (["trainer.stop=converged", "trainer.epochs=5"], "trainer.epochs=5", "trainer.epochs >= 11"),
    (["replicates=auto", "sequential.min=5", "sequential.max=3"], "sequential.max=3", "allowed: 5 to"),
    (["sequential.min=1"], "sequential.min=1", "allowed: 2 to"),
    (["sequential.step=0"], "sequential.step=0", "allowed: 1 to"),
    (["replicates=many"], "replicates=many", "or auto"),
    (["speed.horizon=0"], "speed.horizon=0", "allowed: 1 to"),
    (["speed.threshold=nan"], "speed.threshold=nan", "a finite eval loss"),
    (["claims.bottleneck_clusters.effects.0.margin=-1"], "effects[0].margin", "a number > 0"),
    (["data.eval_fraction=nan"], "data.eval_fraction=nan", "(0, 1)"),
    (["data.split_seed=-1"], "data.split_seed=-1", "allowed: 0 to 4294967295"),
    (["data.split_seed=4294967296"], "data.split_seed=4294967296", "allowed: 0 to 4294967295"),
    (["data.channels=0"], "data.channels=0", "allowed: 1 to 65536"),
    (["data.image_size=[28,0]"], "data.image_size=[28, 0]", "a non-empty list of 1 to 65536"),
    (["model.bottleneck_dim=0"], "model.bottleneck_dim=0", "allowed: 1 to"),
    (["model.channels=[4,0]"], "model.channels=[4, 0]", "a non-empty list of 1 to"),
    (["model.channels=[4,8,16]"], "data.image_size / model.channels", "multiple of 8"),
    # an eval split too small to score k-means purity (it would read 1.0 whatever the latent)
    (["data.limit=60"], "12 images for 10 classes", "at least 20"),
    (["data.eval_fraction=0.001"], "5 images for 10 classes", "at least 20"),
    # where it would write: outside the launch directory, a file where a folder must be, no store
    (["tracking.experiment=../../x"], "tracking.experiment='../../x'", "without '/'"),
    (["tracking.experiment=a/b"], "tracking.experiment='a/b'", "it is also a folder name"),
    (["tracking.experiment="], "tracking.experiment=''", "1-200 characters"),
    (["tracking.uri=garbage://x"], "tracking.uri: garbage://x: unsupported store", "sqlite:///"),
    (["tracking.uri=sqlite:///afile/m.db"], "afile is a file, not a folder", "tracking.uri"),
    (["tracking.artifact_dir=afile"], "tracking.artifact_dir=afile", "is a file, not a folder"),
    (["tracking.checkpoint_dir=afile/x"], "tracking.checkpoint_dir=afile/x", "is a file, not a folder"),
    (["tracking.report_dir=afile"], "tracking.report_dir=afile", "is a file, not a folder"),
    (["hydra.run.dir=afile/r", "hydra.sweep.dir=afile/s"], "dir=afile/", "is a file, not a folder"),
]


@pytest.mark.parametrize("multirun", [False, True], ids=["run", "multirun"])
@pytest.mark.parametrize("args,key,allowed", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_override_is_one_line(ablate_cli, launch_dir, args, key, allowed, multirun):
    (launch_dir / "afile").write_text("a file where a folder must be\n")
    extra = ["-m", "model.bottleneck=true,false"] if multirun else []
    code, out, err = ablate_cli(*extra, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and key in lines[0] and allowed in lines[0], lines[0]
    assert sorted(p.name for p in launch_dir.iterdir()) == ["afile"]  # nothing written


def test_replicates_auto_needs_a_sweep_a_claim_and_the_rounds_sweeper(ablate_cli, launch_dir):
    code, _, err = ablate_cli("replicates=auto")
    assert code == 2 and err.startswith("error: replicates=auto adds seeds in rounds of a sweep") and "-m" in err
    code, _, err = ablate_cli("-m", "model.bottleneck=true,false", "replicates=auto")  # no claim reads it alone
    assert code == 2 and "error: replicates=auto: no declared claim is judged by this sweep" in err, err
    grid = ("-m", "model.skip=true,false", "model.bottleneck=true,false", "replicates=auto")
    code, _, err = ablate_cli(*grid, "claims=none")
    assert code == 2 and "no declared claim is judged" in err
    code, _, err = ablate_cli(*grid, "hydra/sweeper=basic")  # Hydra's own: one pass over the grid
    assert code == 2 and "hydra/sweeper=basic does not add seeds in rounds (allowed: hydra/sweeper=ablate" in err, err
    assert len(err.strip().splitlines()) == 1
    assert list(launch_dir.iterdir()) == []


def test_one_bad_cell_in_a_grid_stops_the_whole_sweep_before_it_starts(ablate_cli, launch_dir):
    code, _, err = ablate_cli("-m", "trainer.epochs=1,0", "model.skip=true,false")
    assert code == 2 and "trainer.epochs=0" in err
    assert not (launch_dir / "mlflow.db").exists()


def test_slurm_settings_that_would_fail_every_job_are_one_line(ablate_cli, launch_dir, monkeypatch):
    code, out, err = ablate_cli("-m", "hydra/launcher=slurm", "hydra.launcher.timeout_min=1", "model.skip=true,false")
    assert code == 2 and err.startswith("error: hydra.launcher.signal_delay_s=120 with timeout_min=1: allowed: ")
    assert "timeout_min >= 4" in err, err
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # a machine without Slurm's commands
    code, out, err = ablate_cli("-m", "hydra/launcher=slurm", "model.skip=true,false")
    assert (
        code == 2
        and err == "error: hydra/launcher=slurm: no `sbatch` on this machine (submit from a Slurm login node)\n"
    )
    assert list(launch_dir.iterdir()) == []  # nothing submitted, nothing written


FOUR = ("model.skip=true,false", "model.bottleneck=true,false", "trainer.optimizer=adam,sgd", "model.middle=16,8")
DESIGN_CASES = [
    (["design=foo"], "design=foo: no such option", "add_one_in, fractional, full, leave_one_out, one_at_a_time"),
    (["design.name=foo"], "design.name=foo is not allowed", "full, leave_one_out"),
    (["design=fractional", "design.resolution=5"], "design.resolution=5 is impossible with 4 components", "3 to 4"),
    (["design=fractional", "design.p=1", "design.resolution=5"], "design.resolution=5", "3 to 4"),
    (["design=fractional", "design.p=2"], "design.p=2 is not allowed with 4 components", "allowed: 1"),
    (["design=fractional", "design.p=0"], "design.p=0 is not allowed", "a positive integer"),
    (["design=full", "design.resolution=4"], "design.resolution=4 is a setting of design=fractional", "design=full"),
    (["design=leave_one_out", "model.nope=1,2"], "model.nope: unknown key", "skip, bottleneck"),
    (["design=leave_one_out", "model.middle=16,0"], "model.middle=0", "allowed: 1 to"),
    (["design=leave_one_out", "model.middle=16,8,4"], "design=leave_one_out: model.middle has 3 levels", "allowed: 2"),
    (
        ["design=fractional", "design.resolution=3", "hydra/sweeper=optuna", "hparams=smoke"],
        "runs only the full grid",
        "hydra/sweeper=ablate",
    ),
]


@pytest.mark.parametrize("args,key,allowed", DESIGN_CASES, ids=[" ".join(c[0]) for c in DESIGN_CASES])
def test_a_bad_design_is_one_line_before_anything_runs(ablate_cli, launch_dir, args, key, allowed):
    code, _, err = ablate_cli("-m", *FOUR, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: ") and key in lines[0] and allowed in lines[0], lines[0]
    assert list(launch_dir.iterdir()) == []  # nothing written


def test_a_design_needs_a_sweep(ablate_cli, launch_dir):
    code, _, err = ablate_cli("design=leave_one_out")
    assert code == 2 and err.startswith("error: design=leave_one_out picks arms among the keys a sweep varies"), err
    code, _, err = ablate_cli("-m", "design=fractional", "model.skip=true,false", "model.bottleneck=true,false")
    assert code == 2 and "design=fractional needs at least 3 components, this sweep has 2" in err, err
    assert list(launch_dir.iterdir()) == []
