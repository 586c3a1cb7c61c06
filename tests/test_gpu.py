"""On a CUDA device: a real run trains and evaluates there, and the torch k-means clusters as on the CPU.

Select with -m gpu; without CUDA the whole module is skipped."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers.runs import TINY
from mlflow.tracking import MlflowClient
from sklearn.datasets import make_blobs

from ablate.evaluate import purity
from ablate.evaluate.kmeans_torch import kmeans_labels_batched

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
