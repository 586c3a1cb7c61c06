"""Models: plain torch modules that take typed arguments and return (raw output, latent)."""

from ablate.models.base import InputSizeError, count_parameters
from ablate.models.unet import UNet

__all__ = ["InputSizeError", "UNet", "count_parameters"]
