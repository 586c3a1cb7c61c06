"""ablate's Slurm launcher on submitit (`hydra/launcher=slurm`).

Hydra's plugin scan imports `launchers` on every start of every Hydra app: it imports only
Hydra's submitit launcher module (light; submitit itself is imported when a sweep launches).
"""
