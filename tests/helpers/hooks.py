"""Epoch hooks for tests, handed to jobs the way a sweeper hands its own ($ABLATE_EPOCH_HOOK)."""

from __future__ import annotations


class Interrupt:
    """Ctrl-C after the given epoch is logged (before its checkpoint is written)."""

    def __init__(self, epoch: str):
        self.epoch = int(epoch)

    def __call__(self, epoch: int, values: dict[str, float]) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"test interrupt after epoch {epoch}")
