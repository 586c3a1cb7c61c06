"""The training engine: one epoch loop for one model or a pack (train, packed), the vectorized
stack, checkpoints, precision and device, progress lines and per-epoch hooks. Plain values in,
trained models and their history out: no Hydra, no MLflow, no job."""
