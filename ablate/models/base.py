"""What ablate asks of a model, and what it measures of any model.

A model is any `nn.Module` built from a `_target_` with its own keyword arguments plus the three
ablate supplies (`in_channels`, `out_channels`, `input_size`), whose `forward(x)` returns
`(output, latent)`: the raw output (the task applies its activation) and a latent of shape (N, D)
computed in `forward`, never kept on the module (torch.func and torch.compile need pure forwards).
"""

from __future__ import annotations

from torch import nn


class InputSizeError(ValueError):
    """A model cannot take the data's image size (e.g. a U-Net too deep to halve it). The message
    starts with the constructor argument at fault, `"channels: why"`: ablate's preflight reports
    it before anything runs as `data.image_size / model.channels: why`, and only that grid cell fails."""


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameters, and BatchNorm running statistics counted the way Keras does
    (moving mean and variance as non-trainable weights; the batch counter is not one)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats = sum(
        m.running_mean.numel() + m.running_var.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None
    )
    return {"trainable": trainable, "non_trainable": stats, "keras_total": trainable + stats}
