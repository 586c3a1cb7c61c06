"""The training engine: one epoch loop for one model or a pack (train), the two steps it takes
(steps: plain, or vectorized over a pack: vectorized), the eval pass (evaluation), checkpoints,
precision, device and optimizer (setup), progress lines and per-epoch hooks. Plain values in,
trained models and their history out: no Hydra, no MLflow, no job."""
