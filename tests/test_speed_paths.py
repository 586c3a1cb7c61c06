"""The speed switches of the trainer (channels_last, torch.compile, precision, fused optimizer) keep
what the plain loop guarantees: same seed = same numbers, and a resumed run equals an uninterrupted
one bit for bit. No timings here: those live in benchmarks/ (reports/benchmarks.md)."""

from __future__ import annotations

import io

import pytest
import torch

from ablate.config import ConfigError, TrainerConfig
from ablate.data import split
from ablate.data.mnist5k import load
from ablate.engine import checkpoint
from ablate.engine.setup import autocast_dtype, make_optimizer, resolve_precision, seed_everything
from ablate.engine.train import TrainSpec, train_model
from ablate.models.unet import UNet
from ablate.tasks.autoencode import Autoencode

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny():
    return split(load(), 0.25, 0, limit=160)


def _run(tiny, epochs, path=None, resume=None, **speed):
    seed_everything(0)
    model = UNet(1, 1, (4, 8), 16, skip=True, bottleneck=False)
    opt = make_optimizer(model, "adam", 1e-3, 0.9, 0.0)
    spec = TrainSpec(epochs=epochs, batch_size=32, device=CPU, progress=False, checkpoint=path, **speed)
    history = train_model(model, opt, Autoencode(), *tiny, spec, seed=0, resume=resume)
    return history, model


@pytest.mark.parametrize(
    "speed",
    [
        {"channels_last": True},
        pytest.param({"channels_last": True, "compile_model": True}, marks=pytest.mark.slow),  # compiles: ~2 min
    ],
    ids=["channels_last", "compile"],
)
def test_speed_paths_resume_bit_identical(tiny, tmp_path, speed):
    full, model = _run(tiny, 3, **speed)
    again, _ = _run(tiny, 3, **speed)
    assert full.train_loss == again.train_loss and full.eval_loss == again.eval_loss  # same seed, same numbers

    path = tmp_path / "last.pt"
    _run(tiny, 2, path=path, **speed)  # "killed" after epoch 2
    state = checkpoint.load(path)  # weights_only=True: optimizer state included
    resumed, resumed_model = _run(tiny, 3, resume=state, **speed)
    assert resumed.train_loss == full.train_loss and resumed.eval_loss == full.eval_loss
    for key, value in model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key


def test_bf16_autocast_trains_on_cpu(tiny):
    assert autocast_dtype(resolve_precision("bf16", CPU)) is torch.bfloat16
    assert autocast_dtype(resolve_precision("fp32", CPU)) is None
    history, _ = _run(tiny, 1, precision="bf16")
    assert all(0 < v < 1e4 for v in history.train_loss + history.eval_loss)


def test_optimizer_fused_only_where_asked_and_state_loads_weights_only():
    model = UNet(1, 1, (4, 8), 16)
    assert not make_optimizer(model, "adam", 1e-3, 0.9, 0.0).param_groups[0]["fused"]  # CPU: foreach
    opt = make_optimizer(model, "adam", 1e-3, 0.9, 0.0, fused=True)
    out, _ = model(torch.rand(4, 1, 28, 28))
    out.sum().backward()
    opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    make_optimizer(model, "sgd", 1e-3, 0.9, 0.0, fused=True).step()
    opt.load_state_dict(torch.load(buffer, weights_only=True))


def test_precision_key_is_validated():
    with pytest.raises(ConfigError, match=r"trainer.precision=fp16 .*allowed: auto, fp32, bf16"):
        TrainerConfig(precision="fp16")


def test_bad_kmeans_backend_is_one_line(ablate_cli, launch_dir):
    code, _, err = ablate_cli("eval.kmeans=faiss")
    assert code == 2 and "eval.kmeans" in err and "sklearn, torch" in err and len(err.strip().splitlines()) == 1
