"""ablate's Hydra sweeper on Optuna 5: `python -m ablate -m hydra/sweeper=optuna hparams=NAME`.

Hydra's plugin scan imports every module of this package whose name does not start with an
underscore, on every start of every Hydra app: only `optuna_sweeper` is public, and it imports
nothing heavy; Optuna, MLflow and torch are imported when a search actually runs.
"""
