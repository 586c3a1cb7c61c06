"""A trained model's final evaluation: one pass over the eval split keeping outputs and latents
(in fp32, whatever precision it trained in), the task's quality metrics, and the latents' cluster
quality (k-means over several seeds, scored against the labels) when asked and labelled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ablate.config.root import EvalConfig
from ablate.data import ImageSet
from ablate.engine.evaluation import evaluate
from ablate.evaluate.clustering import cluster_quality
from ablate.tasks import Task


@dataclass
class FinalEvaluation:
    metrics: dict[str, float]  # the task's, then purity/NMI/ARI (or latent_dim without clustering)
    latents: np.ndarray  # one row per eval image
    labels: np.ndarray  # the eval split's labels (empty without)


def final_evaluation(
    model: nn.Module, task: Task, eval_set: ImageSet, batch_size: int, device: torch.device, settings: EvalConfig
) -> FinalEvaluation:
    final = evaluate(model, task, eval_set, batch_size, device, keep=True)
    latents = final.latents.numpy()
    labels = np.array([]) if eval_set.labels is None else eval_set.labels.numpy()
    metrics = dict(final.quality)
    if settings.latent and eval_set.labels is not None:  # purity, NMI, ARI and the feature dim
        s = settings
        metrics.update(cluster_quality(latents, labels, s.kmeans_seeds, s.n_init, s.kmeans.value, device))
    else:
        metrics["latent_dim"] = latents.shape[1]
    return FinalEvaluation(metrics, latents, labels)
