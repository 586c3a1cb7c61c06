import pytest
import torch

from ablate.models import UNet, count_parameters
from ablate.tasks.autoencode import Autoencode
from benchmarks.common import macs_per_image

STL = dict(channels=(64, 128, 256, 512), middle=1024)


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("bottleneck", [True, False])
@pytest.mark.parametrize(
    "size,channels", [((28, 28), (4, 8)), ((32, 48), (4, 8)), ((16, 16), (4, 8, 16, 32)), ((96, 96), (4, 8, 16, 32))]
)
def test_shapes_every_arm(skip, bottleneck, size, channels):
    model = UNet(3, 2, channels=channels, middle=8, skip=skip, bottleneck=bottleneck, bottleneck_dim=5, input_size=size)
    out, latent = model(torch.rand(3, 3, *size))
    assert out.shape == (3, 2, *size)
    side = [s // 2 ** len(channels) for s in size]
    assert latent.shape == (3, 5 if bottleneck else 8 * side[0] * side[1])
    assert model.latent_dim == latent.shape[1]
    image = Autoencode().output(out)  # the task applies the output activation: a sigmoid for images
    assert image.min() >= 0 and image.max() <= 1


def test_mnist_latent_is_tanh_middle_or_bottleneck():
    plain = UNet(1, 1, skip=False, bottleneck=False)
    _, latent = plain(torch.rand(2, 1, 28, 28))
    assert latent.shape == (2, 784) and latent.abs().max() <= 1  # 7x7x16 tanh values
    dense = UNet(1, 1, skip=True, bottleneck=True, bottleneck_dim=16)
    _, latent = dense(torch.rand(2, 1, 28, 28))
    assert latent.shape == (2, 16) and latent.abs().max() <= 1


def test_stl_parameter_count_matches_keras():
    counts = count_parameters(UNet(1, 3, **STL, skip=True, input_size=(96, 96)))
    assert counts["trainable"] == 31_042_499
    assert counts["non_trainable"] == 11_776
    assert counts["keras_total"] == 31_054_275
    assert count_parameters(UNet(1, 3, **STL, skip=False, input_size=(96, 96)))["trainable"] == 27_909_059


def test_stl_forward_cost():
    gmac = macs_per_image(UNet(1, 3, **STL, skip=True, input_size=(96, 96)), 1, (96, 96)) / 1e9
    assert gmac == pytest.approx(6.8, abs=0.05)
    gmac = macs_per_image(UNet(1, 3, **STL, skip=False, input_size=(96, 96)), 1, (96, 96)) / 1e9
    assert gmac == pytest.approx(5.4, abs=0.05)


def test_skip_switch_changes_decoder_inputs_only():
    on, off = UNet(1, 1, skip=True), UNet(1, 1, skip=False)
    assert on.decoder[0].block[0].in_channels == 16 and off.decoder[0].block[0].in_channels == 8
    assert isinstance(on.center, torch.nn.Identity)


@pytest.mark.parametrize(
    "size,channels,factor", [((30, 28), (4, 8), 4), ((28, 0), (4, 8), 4), ((28, 28), (4, 8, 16), 8)]
)
def test_sizes_the_depth_cannot_halve_are_rejected(size, channels, factor):
    with pytest.raises(ValueError, match=rf"cannot be halved {len(channels)} times.*multiple of {factor}") as err:
        UNet(1, 1, input_size=size, channels=channels)
    assert "\n" not in str(err.value)
