"""Datasets: each loader returns an ImageSet (float images in [0, 1], NCHW, optional labels).

A loader is named by `data.impl` (a dotted path), so a new dataset is one module + one YAML file.
"""

from ablate.data.base import ImageSet, cache_dir, load_data, split

__all__ = ["ImageSet", "cache_dir", "load_data", "split"]
