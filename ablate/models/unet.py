"""The U-Net of the study, with its two ablation switches.

Follows the article (2019 blog post "U-Net as an autoencoder (from self-reconstruction to
colorizing grayscale images)", after Ronneberger et al. 2015, with "same" padding):
block = 2 x [Conv3x3 same -> BatchNorm -> ReLU]; encoder blocks with MaxPool 2; a middle block
whose second activation is tanh (its output is the latent when there is no bottleneck);
decoder = ConvTranspose k2 s2 -> (concat skip) -> block; Conv1x1 out.
The output is raw: the task applies its activation (a sigmoid for images, none for logits).

The switches follow segmentation_models_pytorch's decoder: skip channels are a list with 0
where there is no skip and the skip tensor is then None; the dense bottleneck sits in a
module slot that is nn.Identity() when switched off. Plain torch: no Hydra in here.
"""

from __future__ import annotations

import torch
from torch import nn

from ablate.models.base import InputSizeError


class ConvBlock(nn.Sequential):
    """2 x [Conv 3x3 same -> BatchNorm -> activation]; the last activation is configurable."""

    def __init__(self, in_ch: int, out_ch: int, last_act: type[nn.Module] = nn.ReLU):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
            nn.BatchNorm2d(out_ch),
            last_act(),
        )


class DenseBottleneck(nn.Module):
    """Flatten -> Dense(dim, tanh) = latent -> Dense(back to the middle's size, ReLU) -> reshape."""

    def __init__(self, channels: int, height: int, width: int, dim: int):
        super().__init__()
        self.shape = (channels, height, width)
        flat = channels * height * width
        self.encode = nn.Sequential(nn.Flatten(), nn.Linear(flat, dim), nn.Tanh())
        self.decode = nn.Sequential(nn.Linear(dim, flat), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the decoded feature map, the latent): returned, not kept, so torch.func and
        torch.compile see a pure function."""
        latent = self.encode(x)
        return self.decode(latent).view(-1, *self.shape), latent


class DecoderBlock(nn.Module):
    def __init__(self, in_ch: int, skip_ch: int, out_ch: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.block = ConvBlock(out_ch + skip_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = self.up(x)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.block(x)


class UNet(nn.Module):
    """U-Net (skip=True) or plain convolutional autoencoder (skip=False), with an optional
    dense bottleneck. forward(x) returns (raw output, latent) with latent flattened to (N, D)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: tuple[int, ...] = (4, 8),
        middle: int = 16,
        skip: bool = True,
        bottleneck: bool = False,
        bottleneck_dim: int = 16,
        input_size: tuple[int, int] = (28, 28),
    ):
        super().__init__()
        check_input_size(input_size, len(channels))
        depth = len(channels)
        self.encoder = nn.ModuleList()
        prev = in_channels
        for ch in channels:
            self.encoder.append(ConvBlock(prev, ch))
            prev = ch
        self.pool = nn.MaxPool2d(2)
        self.middle = ConvBlock(prev, middle, last_act=nn.Tanh)

        h, w = (s // 2**depth for s in input_size)
        self.center: nn.Module = DenseBottleneck(middle, h, w, bottleneck_dim) if bottleneck else nn.Identity()
        self.latent_dim = bottleneck_dim if bottleneck else middle * h * w

        skip_channels = [ch if skip else 0 for ch in reversed(channels)]
        self.decoder = nn.ModuleList()
        prev = middle
        for ch, skip_ch in zip(reversed(channels), skip_channels, strict=True):
            self.decoder.append(DecoderBlock(prev, skip_ch, ch))
            prev = ch
        self.head = nn.Conv2d(prev, out_channels, 1)
        self.skip, self.bottleneck = skip, bottleneck

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = []
        for block in self.encoder:
            x = block(x)
            features.append(x)
            x = self.pool(x)
        middle = self.middle(x)
        if self.bottleneck:
            x, latent = self.center(middle)
        else:  # the latent is the tanh middle itself
            x, latent = self.center(middle), middle.flatten(1)

        skips = reversed(features) if self.skip else [None] * len(features)
        for block, skip in zip(self.decoder, skips, strict=True):
            x = block(x, skip)
        return self.head(x), latent


def check_input_size(input_size: tuple[int, int], depth: int) -> None:
    """Each encoder level halves the image, so both sides must divide by 2**depth."""
    factor = 2**depth
    bad = [s for s in input_size if s <= 0 or s % factor]
    if bad:
        ok = ", ".join(str(factor * k) for k in range(1, 5))
        raise InputSizeError(
            f"channels: input size {tuple(input_size)} cannot be halved {depth} times: "
            f"each side must be a positive multiple of {factor} (e.g. {ok})"
        )
