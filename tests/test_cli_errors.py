"""Bad input: one line naming the key and what is allowed, exit 2, nothing created."""

import pytest

CASES = [
    (["model.skip=maybe"], "model.skip", "allowed: true, false"),
    (["+foo=1"], "foo: unknown key", "trainer"),
    (["seed=abc"], "seed", "an integer"),
    (["trainer.epochs=0"], "trainer.epochs=0", "> 0"),
    (["trainer.lr=-1"], "trainer.lr=-1.0", "> 0"),
    (["trainer.batch_size=0"], "trainer.batch_size", "> 0"),
    (["eval.kmeans_seeds=0"], "eval.kmeans_seeds", "> 0"),
    (["trainer.device=gpu"], "trainer.device", "auto, cpu, cuda"),
    (["model.foo=1"], "model.foo: unknown key", "skip, bottleneck"),
    (["data=nope"], "data=nope: no such option", "mnist5k"),
    (["model=nope"], "model=nope: no such option", "mnist, stl"),
    (["model.channels=[4,8,16]"], "data.image_size / model.channels", "multiple of 8"),
]


@pytest.mark.parametrize("multirun", [False, True], ids=["run", "multirun"])
@pytest.mark.parametrize("args,key,allowed", CASES, ids=[c[0][0] for c in CASES])
def test_bad_override_is_one_line(ablate_cli, launch_dir, args, key, allowed, multirun):
    extra = ["-m", "model.bottleneck=true,false"] if multirun else []
    code, out, err = ablate_cli(*extra, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and key in lines[0] and allowed in lines[0]
    assert not (launch_dir / "mlflow.db").exists() and not (launch_dir / "multirun").exists()


def test_one_bad_cell_in_a_grid_stops_the_whole_sweep_before_it_starts(ablate_cli, launch_dir):
    code, _, err = ablate_cli("-m", "trainer.epochs=1,0", "model.skip=true,false")
    assert code == 2 and "trainer.epochs=0" in err
    assert not (launch_dir / "mlflow.db").exists()
