"""The cached composer of the preflight gives exactly what Hydra's compose gives, job by job."""

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from ablate.config import register_configs
from ablate.sweep.preflight import CONFIG_MODULE, CONFIG_NAME, Composer, expand

register_configs()

GRIDS = [
    ["model.skip=true,false", "model.bottleneck=true,false"],
    ["seed=0,1", "trainer.epochs=3", "data=photos", "task=autoencode,colorize", "+extra.key=1"],
    ["sweep=article_purity"],
    ["sweep=segment_smoke", "eval.kmeans=sklearn"],
    ["model=stl", "data.image_size=[32,32]", "trainer.lr=0.01,0.1", "tracking.experiment=x"],
]


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: " ".join(g)[:40])
def test_cached_compose_equals_hydra_compose(grid):
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        composer = Composer()
        jobs = expand(grid, multirun=True)
        assert len(jobs) >= 2
        for job in jobs:
            ours, hydra = composer(job), compose(CONFIG_NAME, overrides=job)
            assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(hydra), job
            assert OmegaConf.is_struct(ours) == OmegaConf.is_struct(hydra)
        assert len(composer.bases) < len(jobs) or len(jobs) == 2  # plain values reuse a composed base


def test_bad_value_raises_hydras_own_error():
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        composer = Composer()
        composer(["model.skip=true"])
        for bad in (["model.foo=1"], ["model.skip=maybe"], ["trainer.lr=abc"]):
            with pytest.raises(Exception) as ours:
                composer(bad)
            with pytest.raises(Exception) as hydra:
                compose(CONFIG_NAME, overrides=bad)
            assert type(ours.value) is type(hydra.value) and str(ours.value) == str(hydra.value)
