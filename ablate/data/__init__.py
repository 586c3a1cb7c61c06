"""Datasets: each loader returns an ImageSet (float images in [0, 1], NCHW, optional labels).

A loader is named by `data._target_` (a dotted path to a function or class) and called with its
own keyword arguments (ablate/job/components.py), so a new dataset is one module + one YAML file.
"""

from ablate.data.base import ImageSet, cache_dir, eval_too_small, split

__all__ = ["ImageSet", "cache_dir", "eval_too_small", "split"]
