"""The class style, rule by rule (design.md section 9), on hand-made poses whose expected
pixels follow from the rules alone."""
import cv2
import numpy as np
import pytest

from stickpose.data.backgrounds import ImageFolderBackgrounds, decode_background, draw_shapes
from stickpose.data.render import class_labels, draw_stickman_class
from stickpose.data.stickman import ConfigError, StickmanConfig, StickmanGenerator
from stickpose.skeleton import CLASS_COLOURS_RGB, LIMBS, line_thickness

WHITE = (255, 255, 255)


def _lit(image):
    return image.any(axis=2)


def _staircase(x0=4.0, y0=4.0):
    """Every joint on a whole-pixel grid, limbs horizontal or vertical, head collapsed onto
    the neck; returns keypoints (16, 2)."""
    keypoints = np.zeros((16, 2))
    for index in range(16):
        keypoints[index] = (x0 + 2 * index, y0)            # one horizontal row of joints
    keypoints[9] = keypoints[8]                            # head of radius 0
    return keypoints


def test_one_pixel_lines_between_rounded_endpoints():
    keypoints = _staircase()
    image = np.zeros((48, 48, 3), np.uint8)
    draw_stickman_class(image, keypoints, WHITE, 1)
    expected = np.zeros((48, 48), bool)
    for a, b in LIMBS:                                     # 8-connected horizontal segments
        (xa, ya), (xb, _) = keypoints[a].astype(int), keypoints[b].astype(int)
        expected[ya, min(xa, xb):max(xa, xb) + 1] = True
    expected[4, 20] = True                                 # the head: one pixel at the neck
    assert np.array_equal(_lit(image), expected)


@pytest.mark.parametrize("value, pixel", [(10.5, 10), (11.5, 12), (12.49, 12), (12.51, 13)])
def test_endpoints_round_halves_to_even(value, pixel):
    keypoints = np.full((16, 2), 30.0)
    keypoints[0], keypoints[1] = (value, 5.0), (value, 20.0)   # a vertical limb at x = value
    image = np.zeros((48, 48, 3), np.uint8)
    draw_stickman_class(image, keypoints, WHITE, 1)
    columns = np.nonzero(_lit(image)[5:18].any(axis=0))[0]
    assert columns.tolist() == [pixel]


def test_head_centre_and_radius_are_truncated():
    keypoints = np.tile([20.6, 60.0], (16, 1))             # every other joint below
    keypoints[8], keypoints[9] = (20.6, 34.0), (20.6, 16.6)    # distance 17.4
    image = np.zeros((64, 64, 3), np.uint8)
    draw_stickman_class(image, keypoints, WHITE, 1)
    lit = _lit(image)[:50]
    lit[:, 21] = False                                     # the neck line, at round(20.6)
    # radius int(8.7) = 8 (not 9), centre (int(20.6), int(25.3)) = (20, 25), not (21, 25):
    # the disc spans columns 12..28 and rows 17..33
    rows, columns = np.nonzero(lit)
    assert (columns.min(), columns.max()) == (12, 28)
    assert (rows.min(), rows.max()) == (17, 33)
    assert lit[17, 20] and lit[33, 20] and lit[25, 12] and lit[25, 28]


@pytest.mark.parametrize("size, thickness", [(32, 1), (64, 1), (140, 2), (196, 4), (224, 4),
                                             (448, 8)])
def test_thickness_rounds_like_the_class(size, thickness):
    # max(round(4 S / 224), 1): 196 -> 3.5 -> 4 and 140 -> 2.5 -> 2 (halves to even)
    assert line_thickness(size) == thickness


@pytest.mark.parametrize("size", [64, 196, 224])
def test_thick_lines_widen_with_the_size(size):
    keypoints = np.full((16, 2), size / 2)
    keypoints[10], keypoints[11] = (10.0, size / 2), (size - 10.0, size / 2)
    keypoints[8] = keypoints[9] = (size / 2, size / 2)
    image = np.zeros((size, size, 3), np.uint8)
    draw_stickman_class(image, keypoints, WHITE, line_thickness(size))
    rows = np.nonzero(_lit(image)[:, size // 3])[0]
    assert len(rows) >= line_thickness(size) and rows.mean() == pytest.approx(size // 2, abs=0.5)


@pytest.mark.parametrize("style, last", [("class", 64), ("class-2022", 63)])
def test_labels_are_truncated_while_the_drawing_rounds(style, last):
    config = StickmanConfig(size=64, style=style, margin=0.0)
    images, keypoints, _ = StickmanGenerator(config, seed=3).chunk(0)
    assert np.array_equal(keypoints, np.trunc(keypoints))
    assert keypoints[..., 0].min(axis=1).tolist() == [0] * len(keypoints)   # no margin
    assert keypoints.max() == last             # 2021 stretched to [0, S], 2022 [0, S - 1]
    np.testing.assert_array_equal(class_labels(np.array([[0.99, 62.5]])), [[0, 62]])


def _replay(values):
    """An rng stand-in that hands draw_shapes fixed uniform draws and integers, in order."""
    class Replay:
        def __init__(self):
            self.uniforms, self.integers_ = list(values["random"]), list(values["integers"])

        def random(self):
            return self.uniforms.pop(0)

        def integers(self, low, high=None, size=None):
            return np.array(self.integers_.pop(0)) if size else self.integers_.pop(0)
    return Replay()


def test_squares_reach_the_border_and_circles_keep_radius_10_at_any_size():
    size = 64
    image = np.zeros((size, size, 3), np.uint8)
    # one square with corners x (64, 40) -> sorted 40..64 (past the border), y (0, 10);
    # one circle at (5, 60) of radius 10
    rng = _replay({"random": [0.0, 0.99, 0.0, 0.99],
                   "integers": [(64, 40), (0, 10), 0, (5, 60), 0]})
    draw_shapes(image, rng, circles=0.5, squares=0.5, palette=[WHITE], style="class")
    lit = _lit(image)
    square = np.zeros((size, size), bool)
    square[0:11, 40:64] = True
    assert (lit & square).sum() == square.sum()
    circle = lit & ~square
    ys, xs = np.nonzero(circle)
    assert xs.min() == 0 and xs.max() == 15 and ys.min() == 50 and ys.max() == 63
    assert circle[50, 5] and circle[60, 15] and not circle[49, 5]


@pytest.mark.parametrize("style", ["class", "class-2022"])
def test_noise_is_drawn_before_the_figure_in_the_class_order(style):
    config = StickmanConfig(size=64, style=style, margin=0.0, circles=0.9, squares=0.9)
    images, keypoints, _ = StickmanGenerator(config, seed=1).chunk(0)
    drawn = (keypoints[:, 6:9] > 0).all(axis=(1, 2))  # 2021: the thorax's limbs are drawn
    assert drawn[:8].sum() >= 4
    for image, points in zip(images[:8][drawn[:8]], keypoints[:8][drawn[:8]]):
        x, y = int(points[7, 0]), int(points[7, 1])   # drawn at round(), labelled trunc()
        thorax = image[y:y + 2, x:x + 2].reshape(-1, 3)
        assert any(tuple(colour) in CLASS_COLOURS_RGB for colour in thorax)
    assert CLASS_COLOURS_RGB[5] == (255, 0, 255)            # the class's pink is magenta


def test_game_art_alpha_below_2_is_black(tmp_path):
    art = np.full((100, 120, 4), 200, np.uint8)
    art[:10, :, 3] = 0
    art[10:20, :, 3] = 1
    art[20:30, :, 3] = 2
    data = cv2.imencode(".png", art)[1].tobytes()
    decoded = decode_background(data)
    assert not decoded[:20].any() and (decoded[20:] == 200).all()


def test_class_crops_need_art_larger_than_the_frame(tmp_path, rng):
    big = np.zeros((80, 90, 4), np.uint8)
    big[..., 2] = np.arange(90)[None, :]                   # red grows along x
    big[..., 3] = 255
    cv2.imwrite(str(tmp_path / "big.png"), big)
    folder = ImageFolderBackgrounds(tmp_path, 64, style="class")
    image = np.zeros((64, 64, 3), np.uint8)
    folder.draw(image, rng)
    # crop offsets randint(0, 90 - 64) and randint(0, 80 - 64): upper bounds excluded
    assert 0 <= int(image[0, 0, 0]) < 26 and np.all(np.diff(image[0, :, 0].astype(int)) == 1)
    small = tmp_path / "small"
    small.mkdir()
    cv2.imwrite(str(small / "a.png"), np.full((64, 200, 3), 90, np.uint8))   # not taller
    image = np.zeros((64, 64, 3), np.uint8)
    ImageFolderBackgrounds(small, 64, style="class").draw(image, rng)
    assert not image.any()                                 # left black, as the class did


def test_class_style_needs_the_whole_frame():
    with pytest.raises(ConfigError, match="margin 0"):
        StickmanConfig(style="class", margin=0.05)
    with pytest.raises(ConfigError, match="style 'comic' is unknown"):
        StickmanConfig(style="comic")
