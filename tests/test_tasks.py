import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from ablate.job.components import build_task
from ablate.tasks.colorize import luma
from ablate.tasks.metrics import confusion, psnr_per_image, segmentation_scores, ssim_per_image
from ablate.tasks.segment import digit_masks


def test_psnr_known_values():
    target = torch.full((2, 1, 8, 8), 0.5)
    assert psnr_per_image(target + 0.1, target).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)  # mse 0.01
    assert psnr_per_image(target, target).tolist() == [100.0, 100.0]  # capped, not inf


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(0)
    a = rng.random((32, 32)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    ref = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    ours = ssim_per_image(torch.from_numpy(b)[None, None], torch.from_numpy(a)[None, None]).item()
    assert ours == pytest.approx(ref, abs=1e-4)
    same = torch.rand(1, 3, 16, 16)
    assert ssim_per_image(same, same).item() == pytest.approx(1.0, abs=1e-5)


def test_miou_and_pixel_accuracy_by_hand():
    target = torch.tensor([[0, 0, 1, 1], [0, 0, 2, 2]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 2, 0]])
    scores = segmentation_scores(confusion(pred, target, classes=4))
    # class 0: TP 3, FP 1, FN 1 -> 3/5; class 1: TP 2, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 1/2; class 3 absent
    assert scores["miou"] == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    assert scores["pixel_acc"] == pytest.approx(6 / 8)


def test_colorize_input_is_bt601_luma_and_rejects_grayscale():
    task = build_task({"_target_": "ablate.tasks.colorize.Colorize", "name": "colorize"})
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    inputs, target = task.batch(rgb, None)
    assert inputs.shape == (1, 1, 2, 2) and torch.allclose(inputs, torch.full_like(inputs, 0.299))
    assert target is rgb and task.in_channels(3) == 1 and task.out_channels(3) == 3
    assert torch.allclose(luma(torch.ones(1, 3, 1, 1)), torch.ones(1, 1, 1, 1))
    reason = task.check(channels=1, labelled=True)
    assert reason and "data.channels=3" in reason and "\n" not in reason
    assert task.check(channels=3, labelled=False) is None


def test_segment_masks_losses_and_label_check():
    task = build_task({"_target_": "ablate.tasks.segment.Segment", "name": "segment"})
    images = torch.tensor([[0.9, 0.2], [0.51, 0.5]]).view(1, 1, 2, 2)
    mask = digit_masks(images, torch.tensor([7]))
    assert mask.tolist() == [[[8, 0], [8, 0]]]  # digit 7 -> class 8; background 0
    logits = torch.zeros(1, 11, 2, 2)
    assert task.out_channels(1) == 11 and task.output(logits) is logits  # logits: no output activation
    assert task.loss(logits, mask).item() == pytest.approx(np.log(11))
    assert "labelled" in task.check(channels=1, labelled=False)


def test_image_tasks_own_the_output_activation():
    raw = torch.linspace(-20, 20, 50).view(1, 2, 5, 5)
    for name in ("autoencode.Autoencode", "colorize.Colorize"):
        out = build_task({"_target_": f"ablate.tasks.{name}"}).output(raw)
        assert out.min() >= 0 and out.max() <= 1 and torch.equal(out, torch.sigmoid(raw))
