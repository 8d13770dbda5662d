import numpy as np
import pytest

from stickpose.data.stickman import (CHUNK_SIZE, DATASET_STREAM, TRAINING_STREAM, ConfigError,
                                     StickmanConfig, StickmanGenerator)
from stickpose.data.render import draw_stickman
from stickpose.skeleton import STICKMAN_COLOURS_RGB


@pytest.mark.parametrize("values, message", [
    ({"circles": 1.5}, r"circles probability 1.5 is outside \[0, 1\]"),
    ({"backgrounds": -0.1}, r"backgrounds probability -0.1 is outside"),
    ({"squares": 1.0}, "would add squares forever"),
    ({"size": 16}, "size 16 is too small; expected an integer >= 32"),
    ({"placement": "tile"}, "placement 'tile' is unknown; expected one of stretch, fit"),
    ({"margin": 0.5}, r"margin 0.5 is outside"),
    ({"circles": "lots"}, "circles 'lots' is not a number"),
    ({"size": 100000}, "size 100000 is too large; expected at most 4096"),
    ({"background_dir": "pictures"}, "backgrounds probability is 0"),
    ({"labels": "viewer"}, "labels 'viewer' is unknown; expected one of observer, person"),
])
def test_bad_settings_are_named(values, message):
    with pytest.raises(ConfigError, match=message):
        StickmanConfig(**values)


def test_unknown_setting_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown setting.*circle.*known: background_dir"):
        StickmanConfig.from_dict({"circle": 0.5})


def test_backgrounds_probability_one_is_allowed():
    assert StickmanConfig(backgrounds=1.0).backgrounds == 1.0


def test_chunks_are_deterministic_and_independent(small_noisy):
    a = StickmanGenerator(small_noisy, 7)
    b = StickmanGenerator(small_noisy, 7)
    for index in (3, 0):            # order does not matter
        for x, y in zip(a.chunk(index), b.chunk(index)):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.chunk(0)[0], a.chunk(1)[0])
    assert not np.array_equal(a.chunk(0)[0], StickmanGenerator(small_noisy, 8).chunk(0)[0])


def test_training_stream_never_replays_the_dataset_stream(small_noisy):
    dataset = StickmanGenerator(small_noisy, 1001, DATASET_STREAM).chunk(0)[1]
    training = StickmanGenerator(small_noisy, 1001, TRAINING_STREAM).chunk(0)[1]
    assert not np.allclose(dataset, training)


def test_chunk_shapes_and_types(small_noisy):
    images, keypoints, visible = StickmanGenerator(small_noisy, 0).chunk(0)
    assert images.shape == (CHUNK_SIZE, 48, 48, 3) and images.dtype == np.uint8
    assert keypoints.shape == (CHUNK_SIZE, 16, 2) and keypoints.dtype == np.float32
    assert visible.shape == (CHUNK_SIZE, 16) and visible.dtype == bool
    assert not visible.all() and visible.mean() > 0.5      # occluders hide some joints


def test_clean_images_show_the_figure_under_every_joint():
    images, keypoints, visible = StickmanGenerator(StickmanConfig(size=96), 2).chunk(0)
    assert visible.all()
    palette = np.array(STICKMAN_COLOURS_RGB)
    for image, points in zip(images, keypoints):
        pixel = np.rint(points).astype(int)
        colours = image[pixel[:, 1], pixel[:, 0]]
        assert (colours.max(axis=1) > 0).all()                # no joint on the black ground
        figure = palette[np.abs(palette[:, None] - image[pixel[7, 1], pixel[7, 0]]).sum(-1)
                         .argmin()]
        body = image.reshape(-1, 3)[image.reshape(-1, 3).max(1) == 255]
        # every fully lit pixel has the figure's colour: one colour per figure
        assert (np.abs(body.astype(int) - figure).sum(1) < 2).mean() > 0.95


def _figure_colour(image, keypoints):
    """The palette colour under the thorax (a limb's centre line is fully lit)."""
    x, y = np.rint(keypoints[7]).astype(int)
    colour = image[y, x]
    assert any((colour == c).all() for c in STICKMAN_COLOURS_RGB)
    return colour


NOISY = StickmanConfig(size=224, circles=0.75, squares=0.5, backgrounds=0.5)


def test_noise_lies_behind_the_figure_and_never_takes_its_colour():
    images, keypoints, _ = StickmanGenerator(NOISY, 5).chunk(0)
    for image, points in zip(images, keypoints):
        colour = _figure_colour(image, points)
        pixel = np.rint(points).astype(int)
        # every joint (on the lines' centres, 4 px thick) shows the figure: nothing covers it
        assert (image[pixel[:, 1], pixel[:, 0]] == colour).all()
        # pixels of the figure's colour lie only on or near the figure
        near = np.zeros(image.shape[:2], np.uint8)
        draw_stickman(near, points, 255, 8)
        stray = (image == colour).all(axis=2) & (near == 0)
        assert not stray.any()


def test_occluders_lie_in_front_of_the_figure():
    config = StickmanConfig(size=224, circles=0.5, occluders=0.7)
    images, keypoints, visible = StickmanGenerator(config, 6).chunk(0)
    assert 0.05 < (~visible).mean() < 0.6
    for image, points, shown in zip(images, keypoints, visible):
        pixel = np.rint(points).astype(int)
        seen = image[pixel[:, 1], pixel[:, 0]]
        colours = {tuple(c) for c in seen[shown]}
        assert len(colours) <= 1                              # visible joints: the figure
        if colours and (~shown).any():
            (colour,) = colours
            assert not (seen[~shown] == colour).all(axis=1).any()   # hidden: covered


def test_label_convention_changes_labels_not_pictures():
    observer = StickmanGenerator(StickmanConfig(size=64), 3).chunk(0)
    person = StickmanGenerator(StickmanConfig(size=64, labels="person"), 3).chunk(0)
    # the same picture, up to anti-aliasing: swapped labels draw the chains in another order
    assert (observer[0] != person[0]).mean() < 0.005
    differs = (observer[1] != person[1]).any(axis=(1, 2))
    assert 0.2 < differs.mean() < 0.8                         # figures seen from behind
    assert (observer[1][:, 12, 0] <= observer[1][:, 13, 0]).all()


def test_game_backgrounds_fill_the_frame():
    images, _, _ = StickmanGenerator(StickmanConfig(size=64, backgrounds=1.0), 0).chunk(0)
    black = (images.max(axis=3) == 0).mean(axis=(1, 2))
    assert (black < 0.05).all()


def test_pose_bank_drives_the_generator(tmp_path):
    pose = np.array([[10, 90], [12, 70], [15, 50], [25, 50], [28, 70], [30, 90], [20, 50],
                     [20, 20], [20, 15], [20, 5], [5, 35], [8, 28], [12, 20], [28, 20],
                     [32, 28], [35, 35]], float)
    np.save(tmp_path / "one.npy", pose[None])
    config = StickmanConfig(size=64, poses=str(tmp_path / "one.npy"))
    generator = StickmanGenerator(config, 0)
    _, keypoints, _ = generator.chunk(0)
    # stretch maps the one pose to the same place every time
    np.testing.assert_allclose(keypoints, np.broadcast_to(keypoints[0], keypoints.shape))
    assert generator.pose_source()["kind"] == "bank"
