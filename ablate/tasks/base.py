"""The interface every task implements, and lookup by dotted path."""

from __future__ import annotations

import importlib

import torch


class Task:
    name = "task"
    # sigmoid for image outputs in [0, 1]; None for logits (segmentation)
    final_activation: str | None = "sigmoid"

    def check(self, channels: int, labelled: bool) -> str | None:
        """None if the task can run on this data, else a one-line reason."""
        return None

    def in_channels(self, data_channels: int) -> int:
        return data_channels

    def out_channels(self, data_channels: int) -> int:
        raise NotImplementedError

    def batch(self, images: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) from a batch of dataset images in [0, 1]."""
        raise NotImplementedError

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def load_task(impl: str) -> Task:
    module, _, cls = impl.rpartition(".")
    return getattr(importlib.import_module(module), cls)()
