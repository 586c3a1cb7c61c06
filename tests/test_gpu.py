"""On a CUDA device: a real run trains and evaluates there (bf16 autocast, fused Adam, one host
sync per epoch, resume bit-identical under deterministic algorithms, replicates packed), and the
torch k-means clusters as on the CPU.

Select with -m gpu; without CUDA the whole module is skipped. benchmarks/gpu.py runs it first."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
import torch
from helpers.runs import TINY
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_blobs

from ablate.data import split
from ablate.data.mnist5k import load
from ablate.engine import checkpoint
from ablate.engine.setup import make_optimizer, on_device, resolve_precision, seed_everything
from ablate.engine.steps import plain_epoch
from ablate.engine.train import TrainSpec, train_model
from ablate.evaluate import purity
from ablate.evaluate.kmeans_torch import kmeans_labels_batched
from ablate.models.unet import UNet
from ablate.tasks.autoencode import Autoencode

# cuBLAS computes deterministically only with a fixed workspace, read when CUDA starts: set on import
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"
    ),
]


def test_single_run_on_cuda_finishes_with_metrics(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*TINY, "trainer.device=cuda", "seed=0", "tracking.experiment=gpu")
    assert code == 0, err
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("gpu").experiment_id])
    assert run.info.status == "FINISHED", run.data.tags.get("ablate.error")
    assert math.isfinite(run.data.metrics["final_eval_loss"])
    assert "purity_mean" in run.data.metrics


def test_kmeans_on_cuda_matches_the_cpu():
    x, y = make_blobs(n_samples=500, centers=5, n_features=8, cluster_std=1.5, random_state=0)
    features = torch.as_tensor(x)
    seeds, n_init = [0, 1, 2], 3
    cpu_labels, cpu_inertia = kmeans_labels_batched(features, 5, seeds, n_init)
    gpu_labels, gpu_inertia = kmeans_labels_batched(features.cuda(), 5, seeds, n_init)
    assert gpu_labels.device.type == "cuda" and gpu_inertia.device.type == "cuda"
    assert torch.equal(gpu_labels.cpu(), cpu_labels)
    torch.testing.assert_close(gpu_inertia.cpu(), cpu_inertia, rtol=1e-4, atol=0.0)
    cpu_purity = [purity(y, row) for row in cpu_labels.numpy()]
    gpu_purity = [purity(y, row) for row in gpu_labels.cpu().numpy()]
    assert gpu_purity == cpu_purity
    assert np.mean(gpu_purity) > 0.9  # well-separated blobs: the clustering itself is sane


def _tiny_set(device_limit: int = 160):
    return split(load(), 0.25, 0, limit=device_limit)


def _train(tiny, device, epochs, path=None, resume=None, precision="fp32", hook=None):
    seed_everything(0)
    model = UNet(1, 1, (4, 8), 16, skip=True, bottleneck=True, bottleneck_dim=16, input_size=(28, 28))
    if hook is not None:  # on the first convolution, to see the dtype it computes in
        next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).register_forward_hook(hook)
    opt = make_optimizer(model.to(device), "adam", 1e-3, 0.9, 0.0)
    spec = TrainSpec(
        epochs=epochs,
        batch_size=32,
        device=device,
        precision=precision,
        channels_last=True,
        progress=False,
        checkpoint=path,
    )
    history = train_model(model, opt, Autoencode(), *tiny, spec, seed=0, resume=resume)
    return history, model, opt


def test_training_on_cuda_is_bf16_autocast_with_the_fused_optimizer():
    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda) == "bf16"  # what trainer.precision=auto gives on CUDA
    seen = set()
    history, _, opt = _train(_tiny_set(), cuda, 1, precision="auto", hook=lambda m, i, o: seen.add(o.dtype))
    assert opt.defaults["fused"] is True  # Adam's fused CUDA kernel
    assert all(math.isfinite(v) for v in history.train_loss + history.eval_loss)
    assert seen == {torch.bfloat16}  # training and evaluation ran their convolutions in bf16


def test_a_training_epoch_on_cuda_syncs_with_the_host_once_whatever_its_steps():
    cuda, task = torch.device("cuda"), Autoencode()
    data = on_device(_tiny_set()[0], cuda, torch.channels_last)
    model = UNet(1, 1, (4, 8), 16).to(cuda, memory_format=torch.channels_last)
    opt = make_optimizer(model, "adam", 1e-3, 0.9, 0.0)

    def syncs(steps: int) -> int:
        order = torch.arange(32 * steps, device=cuda)
        plain_epoch(model, model, task, data, order, 32, opt, cuda, torch.bfloat16)  # warm: lazy state
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                plain_epoch(model, model, task, data, order, 32, opt, cuda, torch.bfloat16)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    assert syncs(1) == syncs(3) == 1  # the epoch's one .item(), never one per step


def test_resume_on_cuda_equals_the_uninterrupted_run_under_deterministic_algorithms(tmp_path):
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG"), "set before CUDA starts (this module sets it on import)"
    cuda, tiny = torch.device("cuda"), _tiny_set()
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False  # the same convolution algorithm in every run
    try:
        full, model, _ = _train(tiny, cuda, 3)
        path = tmp_path / "last.pt"
        _train(tiny, cuda, 2, path=path)  # "killed" after epoch 2
        resumed, again, _ = _train(tiny, cuda, 3, resume=checkpoint.load(path))
    finally:
        torch.use_deterministic_algorithms(False)
    assert resumed.train_loss == full.train_loss and resumed.eval_loss == full.eval_loss
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_replicates_train_packed_on_cuda(ablate_cli, launch_dir):
    code, out, err = ablate_cli(*TINY, "trainer.device=cuda", "replicates=3", "tracking.experiment=pack")
    assert code == 0, err
    client = MlflowClient(f"sqlite:///{launch_dir / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("pack").experiment_id])
    children = [r for r in runs if r.data.params.get("pack_size")]
    assert len(children) == 3 and {r.data.params["pack_size"] for r in children} == {"3"}
    assert {r.info.status for r in children} == {"FINISHED"}
    assert len({r.data.metrics["final_eval_loss"] for r in children}) == 3  # three different seeds
