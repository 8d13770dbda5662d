import numpy as np

from stickpose.data.occlusion import draw_occluders
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
