import numpy as np

import pytest

from stickpose.data.occlusion import LOWER_BODY, UPPER_BODY, draw_occluders, occlude
from stickpose.errors import StickposeError
from stickpose.data.stickman import StickmanConfig, StickmanGenerator


def test_visible_flags_match_what_was_covered():
    generator = StickmanGenerator(StickmanConfig(size=96), seed=3)
    images, keypoints, _ = generator.chunk(0)
    rng = np.random.default_rng(0)
    hidden_any = 0
    for image, points in zip(images, keypoints):
        before = image.copy()
        visible = draw_occluders(image, points, rng, 0.8)
        pixel = np.rint(points).astype(int)
        changed = (before[pixel[:, 1], pixel[:, 0]] != image[pixel[:, 1], pixel[:, 0]]).any(1)
        # a joint is hidden exactly where an occluder changed its pixel
        np.testing.assert_array_equal(~visible, changed)
        hidden_any += (~visible).sum()
    assert hidden_any > 0


def test_no_occluders_keep_everything_visible(rng):
    image = np.zeros((64, 64, 3), np.uint8)
    points = rng.uniform(0, 63, (16, 2))
    assert draw_occluders(image, points, rng, 0.0).all()
    assert not image.any()


def test_joints_off_the_frame_are_not_visible(rng):
    points = np.full((16, 2), 10.0)
    points[3] = (-5.0, 10.0)
    visible = draw_occluders(np.zeros((32, 32, 3), np.uint8), points, rng, 0.0)
    assert not visible[3] and visible.sum() == 15


def test_random_erasing_is_one_zero_rectangle_within_the_limits():
    images, keypoints, visible = StickmanGenerator(StickmanConfig(size=64), seed=1).chunk(0)
    images = np.maximum(images, 1)                   # so that only the erasing makes zeros
    erased, seen = occlude("random", images, keypoints, visible, seed=5)
    assert not (erased == images).all()
    for before, after, points, flags in zip(images, erased, keypoints, seen):
        zero = (after == 0).all(-1)
        rows, cols = np.nonzero(zero)
        box = zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.all()                             # one filled rectangle
        assert 0.02 * 64 * 64 * 0.8 <= box.size <= 0.4 * 64 * 64 * 1.2
        assert 0.25 <= box.shape[0] / box.shape[1] <= 4.0
        np.testing.assert_array_equal(after[~zero], before[~zero])
        pixel = np.rint(points).astype(int).clip(0, 63)
        np.testing.assert_array_equal(flags, ~zero[pixel[:, 1], pixel[:, 0]])
    again, _ = occlude("random", images, keypoints, visible, seed=5)
    np.testing.assert_array_equal(again, erased)     # seeded


def test_upper_and_lower_black_out_their_half():
    images, keypoints, visible = StickmanGenerator(StickmanConfig(size=64), seed=2).chunk(0)
    _, upper = occlude("upper", images, keypoints, visible)
    _, lower = occlude("lower", images, keypoints, visible)
    assert not upper[:, list(UPPER_BODY)].any()      # every upper-body joint hidden
    assert not lower[:, list(LOWER_BODY)].any()
    assert upper[:, list(LOWER_BODY)].any() and lower[:, list(UPPER_BODY)].any()
    with pytest.raises(StickposeError, match="unknown occlusion 'left'; known: random"):
        occlude("left", images, keypoints, visible)
