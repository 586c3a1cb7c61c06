"""Latent-space evaluation: k-means over several seeds, scored against the true labels."""

from ablate.evaluate.clustering import cluster_quality
from ablate.evaluate.purity import purity

__all__ = ["cluster_quality", "purity"]
