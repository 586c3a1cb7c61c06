"""Flatten -> Dense(hidden, ReLU) -> Dense(latent, tanh) -> Dense(hidden, ReLU) -> Dense(pixels)."""

from __future__ import annotations

import torch
from torch import nn


class FCAutoencoder(nn.Module):
    """forward(x) returns (raw output, latent): the task applies the output activation, and the
    latent is returned, never kept on the module (what ablate asks of any model)."""

    def __init__(
        self, in_channels: int, out_channels: int, input_size: tuple[int, int], hidden: int = 128, latent: int = 16
    ):
        super().__init__()
        h, w = input_size
        self.shape = (out_channels, h, w)
        self.encode = nn.Sequential(
            nn.Flatten(), nn.Linear(in_channels * h * w, hidden), nn.ReLU(), nn.Linear(hidden, latent), nn.Tanh()
        )
        self.decode = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, out_channels * h * w))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.encode(x)
        return self.decode(latent).view(-1, *self.shape), latent
