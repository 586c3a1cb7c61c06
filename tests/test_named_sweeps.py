"""Every named study's smoke twin runs end to end; grids over tasks isolate invalid cells."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"
SMOKES = sorted(p.stem for p in SWEEPS.glob("*_smoke.yaml"))


def _runs(launch_dir: Path, experiment: str):
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags], [
        r for r in runs if "mlflow.parentRunId" not in r.data.tags
    ]


def test_every_full_sweep_has_a_smoke_twin():
    full = {p.stem for p in SWEEPS.glob("*.yaml")} - set(SMOKES)
    assert full == {"article_purity", "article_autoencode", "article_colorize", "segment", "unet_components"}
    assert {f"{name}_smoke" for name in full} == set(SMOKES)


@pytest.mark.slow  # each smoke sweep is a real 4-job sweep
@pytest.mark.parametrize("name", SMOKES)
def test_smoke_sweep(ablate_cli, launch_dir, name):
    code, out, err = ablate_cli("-m", f"sweep={name}")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("report: ")
    children, (parent,) = _runs(launch_dir, name)
    assert parent.info.status == "FINISHED" and children
    assert all(c.info.status == "FINISHED" for c in children)
    task = children[0].data.params["task.name"]
    expected = {"segment": {"miou", "pixel_acc"}}.get(task, {"psnr", "ssim"})
    for child in children:
        assert expected <= set(child.data.metrics), child.data.metrics.keys()
        grids = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}").list_artifacts(child.info.run_id, "progress")
        assert grids
    # each study judges its own claims (conf/claims/unet.yaml): segmentation the U-Net paper's, the
    # autoencoder the article's (those its grid can test), colorization none of them
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    judged = re.findall(r"^- \*\*Claim \d+\*\* \((.+?)\): \*\*", report, flags=re.M)
    detail = "skips restore the spatial detail a plain encoder-decoder loses, giving higher mIoU and pixel accuracy"
    article = "skips make training much faster and outputs much sharper"
    expected = {"segment": [detail], "autoencode": [article, *judged[1:]], "colorize": []}[task]
    assert judged == expected and (task != "autoencode" or detail not in judged), judged


@pytest.mark.slow  # a real 2-job sweep and its report (~33 s)
def test_invalid_cell_fails_alone_and_the_report_goes_on(ablate_cli, launch_dir):
    from helpers.runs import TINY

    code, out, err = ablate_cli("-m", "task=autoencode,colorize", *TINY, "tracking.experiment=mixed")
    assert code == 1  # the sweep reports its failed cell with a non-zero exit
    assert "warning: task=colorize" in err and "data.channels=3" in err
    assert out.strip().splitlines()[-1].startswith("report: ")
    children, (parent,) = _runs(launch_dir, "mixed")
    status = {c.data.params["task.name"]: c.info.status for c in children}
    assert status == {"autoencode": "FINISHED", "colorize": "FAILED"}
    failed = next(c for c in children if c.info.status == "FAILED")
    assert "data.channels=3" in failed.data.tags["ablate.error"]
    assert parent.info.status == "FAILED"
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1]).read_text()
    assert "colorize" in report and "FAILED" in report


@pytest.mark.parametrize(
    "name,replicates", [("article_purity", "auto"), ("segment", 3), ("article_purity_smoke", "auto")]
)
def test_a_named_sweep_sets_its_replicates_over_the_default(name, replicates):
    from hydra import compose, initialize_config_module

    from ablate.config import register_configs

    register_configs()
    with initialize_config_module(config_module="ablate.conf", version_base="1.3"):
        assert compose("config", overrides=[f"sweep={name}"]).replicates == replicates
        assert compose("config", overrides=[f"sweep={name}", "replicates=4"]).replicates == 4  # the command line wins
