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


class Dropping(nn.Module):
    """Random ops in forward (dropout): vmap cannot draw one stream per seed, so it is not packed."""

    def __init__(self, in_channels: int, out_channels: int, input_size: tuple[int, int]):
        super().__init__()
        self.head = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.drop(self.head(x))
        return out, out.mean(dim=(2, 3))


class Overflowing(nn.Module):
    """A gain drawn at initialisation (so by the seed): exp(60 * gain) overflows float32 for a gain
    above ~1.48 (seed 0 draws 1.54), and inf - inf makes the output NaN: a real divergence of one
    replicate while the others (seeds 1 and 2 draw 0.66 and 0.34) train normally."""

    def __init__(self, in_channels: int, out_channels: int, input_size: tuple[int, int]):
        super().__init__()
        self.gain = nn.Parameter(torch.randn(()), requires_grad=False)
        self.head = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        big = x.mean() * torch.exp(60 * self.gain)
        out = self.head(x) + (big - big)
        return out, out.mean(dim=(2, 3))
