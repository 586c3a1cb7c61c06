"""Quality metrics kept as additive sums over batches, so eval sets of any size reduce exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ablate.config.metrics import Metric

# the quality metrics the built-in tasks log every epoch and at the end, declared once (the
# registry: ablate/config/metrics.py); a task lists the ones it computes as `Task.metrics`
PSNR = Metric("psnr", "PSNR", "higher", unit="dB", format=".2f", per_epoch=True, key=True)
SSIM = Metric("ssim", "SSIM", "higher", format=".4f", per_epoch=True)
MIOU = Metric("miou", "mIoU", "higher", format=".4f", per_epoch=True, key=True)
PIXEL_ACC = Metric("pixel_acc", "pixel accuracy", "higher", format=".4f", per_epoch=True)
IMAGE_METRICS = (PSNR, SSIM)
SEGMENT_METRICS = (MIOU, PIXEL_ACC)
BUILTIN = (*IMAGE_METRICS, *SEGMENT_METRICS)


def psnr_per_image(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for images in [0, 1] (data range 1); a perfect image is capped at 100 dB."""
    mse = (output - target).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_per_image(output: torch.Tensor, target: torch.Tensor, window: int = 11) -> torch.Tensor:
    """SSIM (Wang et al. 2004: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, data range 1),
    averaged over channels and valid window positions of each image."""
    channels = output.shape[1]
    size = min(window, output.shape[-1], output.shape[-2])
    w = _gaussian_window(size).to(output)[None, None].expand(channels, 1, size, size)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, groups=channels)

    mu_x, mu_y = blur(output), blur(target)
    var_x = blur(output * output) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(output * target) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim.flatten(1).mean(1)


def image_sums(output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    output = output.float()
    return {"psnr": psnr_per_image(output, target).sum(), "ssim": ssim_per_image(output, target).sum()}


def confusion(pred: torch.Tensor, target: torch.Tensor, classes: int) -> torch.Tensor:
    """C[true, predicted] pixel counts."""
    idx = target.flatten() * classes + pred.flatten()
    return torch.bincount(idx, minlength=classes * classes).view(classes, classes)


def segmentation_scores(conf: torch.Tensor) -> dict[str, float]:
    """pixel accuracy, and mean IoU over the classes present in the ground truth (background
    included): IoU_c = TP / (TP + FP + FN)."""
    conf = conf.double()
    tp = conf.diag()
    present = conf.sum(1) > 0
    iou = tp / (conf.sum(0) + conf.sum(1) - tp).clamp_min(1)
    return {"pixel_acc": float(tp.sum() / conf.sum().clamp_min(1)), "miou": float(iou[present].mean())}
