"""Models: plain torch modules that take typed arguments and return (raw output, latent)."""

from ablate.models.base import count_parameters
from ablate.models.unet import UNet

__all__ = ["UNet", "count_parameters"]
