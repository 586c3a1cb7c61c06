"""ablate's default sweeper, `hydra/sweeper=ablate`: Hydra's basic grid, plus rounds of training
seeds for `replicates=auto` (ablate/sweep/rounds.py)."""
