"""The article's published purity table: the 2019 blog article "U-Net as an autoencoder (from
self-reconstruction to colorizing grayscale images)". The only code that knows the names
skip and bottleneck: it adds a reference column where a row's factors match the article's."""

from __future__ import annotations

# (skip, bottleneck) -> (purity mean, purity std over 10 k-means seeds, feature dim)
PURITY = {
    (False, False): (0.5123, 0.0005, 784),
    (False, True): (0.6998, 0.0001, 16),
    (True, False): (0.5217, 0.0001, 784),
    (True, True): (0.3752, 0.0001, 16),
}
RAW_PIXELS = (0.5900, 0.0023, 784)
NOTE = (
    "article: full MNIST, each arm trained once, Keras on a TPU; a different data size and "
    "training length, so a reference, not comparable one to one"
)


def _as_bool(value: object) -> bool | None:
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def reference(cell: dict, task: str, data: str) -> str:
    """'0.5123 ± 0.0005' for an arm of the article's MNIST purity study, else ''."""
    if task != "autoencode" or "mnist" not in data:
        return ""
    skip, bottleneck = _as_bool(cell.get("model.skip")), _as_bool(cell.get("model.bottleneck"))
    if skip is None or bottleneck is None:
        return ""
    mean, std, _ = PURITY[(skip, bottleneck)]
    return f"{mean:.4f} ± {std:.4f}"


def raw_reference(task: str, data: str) -> str:
    if task != "autoencode" or "mnist" not in data:
        return ""
    return f"{RAW_PIXELS[0]:.4f} ± {RAW_PIXELS[1]:.4f}"
