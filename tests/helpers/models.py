"""Small models for the component tests, importable by `_target_` (helpers.models.X)."""

from __future__ import annotations

import torch
from torch import nn


class MetaShy(nn.Module):
    """Reads a tensor's value while it is built (.item()), which the meta device cannot do: the
    preflight's meta-device build must not reject it."""

    def __init__(self, in_channels: int, out_channels: int, input_size: tuple[int, int], scale: float = 2.0):
        super().__init__()
        self.scale = float(torch.tensor(scale).item())
        self.input_size = input_size
        self.head = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(x) * self.scale, x.flatten(1)


class Picky(nn.Module):
    """Rejects a bad value of its own with a plain ValueError (not a size misfit)."""

    def __init__(self, in_channels: int, out_channels: int, input_size: tuple[int, int], width: int = 4):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        self.input_size = input_size
        self.head = nn.Conv2d(in_channels, width, 1)
