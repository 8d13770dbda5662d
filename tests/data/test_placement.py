import numpy as np
import pytest

from stickpose.data.placement import place
from stickpose.data.poses import ProceduralPoses


@pytest.fixture
def poses():
    return ProceduralPoses().sample(np.random.default_rng(0), 100)


def test_stretch_fills_the_frame_on_both_axes(poses, rng):
    placed = place(poses, 224, "stretch", rng, margin=0.05)
    low, high = 0.05 * 224, 223 - 0.05 * 224
    np.testing.assert_allclose(placed.min(axis=1), low, atol=1e-9)
    np.testing.assert_allclose(placed.max(axis=1), high, atol=1e-9)


def test_fit_keeps_aspect_and_stays_inside(poses, rng):
    placed = place(poses, 128, "fit", rng, margin=0.1, min_scale=0.4)
    before = np.ptp(poses, axis=1)
    after = np.ptp(placed, axis=1)
    np.testing.assert_allclose(after[:, 0] / after[:, 1], before[:, 0] / before[:, 1], rtol=1e-9)
    assert placed.min() >= 0.1 * 128 - 1e-9 and placed.max() <= 127 - 0.1 * 128 + 1e-9
    longest = after.max(axis=1)
    span = 127 - 2 * 0.1 * 128
    assert longest.min() >= 0.4 * span - 1e-9 and longest.max() <= span + 1e-9
    assert longest.std() > 1                         # random scale
    assert np.ptp(placed.min(axis=1)[:, 0]) > 5      # random position


def test_degenerate_pose_is_centred_not_nan(rng):
    flat = np.zeros((1, 16, 2))
    flat[0, :, 1] = np.linspace(0, 1, 16)            # zero width
    placed = place(flat, 64, "stretch", rng)
    assert np.isfinite(placed).all()
    np.testing.assert_allclose(placed[0, :, 0], 31.5)


def test_unknown_placement(rng, poses):
    with pytest.raises(ValueError, match="placement 'tile'"):
        place(poses, 64, "tile", rng)
