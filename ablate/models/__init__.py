"""Models: plain torch modules that take typed arguments and return (output, latent)."""

from ablate.models.unet import UNet, count_parameters

__all__ = ["UNet", "count_parameters"]
