import numpy as np
import pytest

from stickpose.codecs.decoders import DECODERS, decode
from stickpose.codecs.gaussian import GaussianHeatmaps
from stickpose.errors import StickposeError

FAST = ["argmax", "quarter", "dark", "softargmax", "gmm", "dedup-gmm"]


def _targets(stride: int, count: int = 8, seed: int = 0, sigma: float = 1.5):
    """Noise-free Gaussian targets at random sub-pixel spots, kept 3 sigma from the border."""
    codec = GaussianHeatmaps(64, stride=stride, sigma=sigma)
    margin = (3 * sigma + 1) * stride
    keypoints = np.random.default_rng(seed).uniform(margin, 63 - margin, (count, 16, 2))
    return codec, keypoints.astype(np.float32), np.asarray(codec.encode(keypoints))


@pytest.mark.parametrize("stride", [1, 2, 4])
@pytest.mark.parametrize("name, tolerance", [("dark", 0.05), ("softargmax", 0.05),
                                             ("argmax", 0.5)])
def test_round_trip_in_heatmap_pixels(stride, name, tolerance):
    codec, keypoints, maps = _targets(stride, seed=stride)
    decoded, scores = decode(name, maps, 64, sigma=1.5)
    error = np.abs(codec.to_heatmap(decoded) - codec.to_heatmap(keypoints))
    assert error.max() <= tolerance + 1e-4
    assert decoded.shape == (8, 16, 2) and decoded.dtype == np.float32
    assert scores.shape == (8, 16) and (scores > 0.7).all()


@pytest.mark.parametrize("name", FAST)
def test_every_decoder_finds_clean_targets(name):
    codec, keypoints, maps = _targets(2, count=3)
    decoded, _ = decode(name, maps, 64)
    assert np.abs(decoded - keypoints).max() < 2.0                 # one heatmap pixel


def test_quarter_and_dark_beat_plain_argmax():
    _, keypoints, maps = _targets(4, count=20, seed=3)
    error = {name: np.abs(decode(name, maps, 64)[0] - keypoints).mean()
             for name in ("argmax", "quarter", "dark")}
    assert error["dark"] < error["quarter"] < error["argmax"]


def test_hand_made_maps():
    maps = np.zeros((1, 8, 8, 16), np.float32)
    maps[0, 2, 5, :] = 1.0                      # peak at x=5, y=2
    maps[0, 2, 6, 0] = 0.5                      # joint 0: right neighbour higher
    maps[0, 1, 5, 1] = 0.5                      # joint 1: upper neighbour higher
    points, scores = decode("argmax", maps, 8)
    np.testing.assert_array_equal(points[0, 2], [5, 2])           # stride 1: input = map px
    points, _ = decode("quarter", maps, 8)
    np.testing.assert_allclose(points[0, 0], [5.25, 2])
    np.testing.assert_allclose(points[0, 1], [5, 1.75])
    np.testing.assert_allclose(scores[0], 1.0)
    # stride 4: map pixel 5 is centred on input pixel 5 * 4 + 1.5
    points, _ = decode("argmax", maps, 32)
    np.testing.assert_allclose(points[0, 2], [21.5, 9.5])
    # soft-argmax of a symmetric blob plus one-sided weight: the weighted mean
    points, _ = decode("softargmax", maps, 8, sigma=1.0)
    np.testing.assert_allclose(points[0, 0], [(5 + 0.5 * 6) / 1.5, 2])


def test_dark_on_an_exact_log_quadratic_map():
    ys, xs = np.mgrid[:16, :16]
    centre = (7.3, 8.6)
    # a wide Gaussian: the blur keeps it Gaussian and centred
    gauss = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 2.0 ** 2))
    maps = np.repeat(gauss[None, :, :, None], 16, axis=3).astype(np.float32)
    points, _ = decode("dark", maps, 16, sigma=1.0)
    np.testing.assert_allclose(points[0, 0], centre, atol=0.02)


def test_dark_keeps_the_argmax_at_the_border():
    maps = np.zeros((1, 8, 8, 16), np.float32)
    maps[0, 0, 3, :] = 1.0
    points, _ = decode("dark", maps, 8)
    np.testing.assert_allclose(points[0, 0], [3, 0])


def test_bad_input():
    with pytest.raises(StickposeError, match=r"shape \(16, 16, 16\); expected \(B, h, w, J\)"):
        decode("argmax", np.zeros((16, 16, 16)), 64)
    with pytest.raises(StickposeError, match="do not divide the input size 64"):
        decode("argmax", np.zeros((1, 10, 10, 16)), 64)
    with pytest.raises(StickposeError, match="unknown decoder 'median'; known: argmax, "
                                             "quarter, dark, softargmax"):
        decode("median", np.zeros((1, 16, 16, 16)), 64)
    with pytest.raises(StickposeError, match="train-decoder"):
        decode("fc", np.zeros((1, 16, 16, 16)), 64)


def test_registry_lists_every_decoder():
    assert set(DECODERS.names()) == {"argmax", "quarter", "dark", "softargmax", "gmm",
                                     "gmm-sklearn", "dedup-gmm", "fc"}
