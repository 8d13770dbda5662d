import cv2
import numpy as np
import pytest

from stickpose.data.backgrounds import (BackgroundFolderError, ImageFolderBackgrounds,
                                        PlatformerScenes, draw_shapes, platformer_scene)
from stickpose.skeleton import STICKMAN_COLOURS_RGB


def _count_shapes(image):
    count, _ = cv2.connectedComponents((image.max(axis=2) > 0).astype(np.uint8))
    return count - 1


def test_no_shapes_at_probability_zero(rng):
    image = np.zeros((64, 64, 3), np.uint8)
    draw_shapes(image, rng, 0.0, 0.0, list(STICKMAN_COLOURS_RGB))
    assert not image.any()


def test_shape_counts_are_geometric(rng):
    counts = []
    for _ in range(400):
        image = np.zeros((224, 224, 3), np.uint8)
        draw_shapes(image, rng, 0.5, 0.0, [(255, 255, 255)])
        counts.append(_count_shapes(image))
    # mean of a geometric count with p = 0.5 is p / (1 - p) = 1 (overlaps merge a few)
    assert 0.75 < np.mean(counts) < 1.1
    assert np.mean(np.array(counts) == 0) == pytest.approx(0.5, abs=0.08)


def test_circles_have_the_design_radius():
    measured = []
    for seed in range(200):
        image = np.zeros((224, 224, 3), np.uint8)
        draw_shapes(image, np.random.default_rng(seed), 0.5, 0.0, [(255, 255, 255)])
        border = image[0].any() or image[-1].any() or image[:, 0].any() or image[:, -1].any()
        if _count_shapes(image) == 1 and not border:
            measured.append(np.sqrt((image[..., 0] / 255.0).sum() / np.pi))
    assert len(measured) > 20
    # OpenCV's anti-aliased edge adds about 0.6 px to the area-equivalent radius
    assert 10 <= np.median(measured) < 10.75


def test_rectangles_cover_every_corner_alike():
    cover = np.zeros((112, 112))
    rng = np.random.default_rng(0)
    for _ in range(3000):
        image = np.zeros((112, 112, 3), np.uint8)
        draw_shapes(image, rng, 0.0, 0.5, [(255, 255, 255)])
        cover += image[..., 0] > 0
    ys, xs = np.mgrid[:112, :112]
    centre = ((xs * cover).sum() / cover.sum(), (ys * cover).sum() / cover.sum())
    # corner-anchored rectangles would pull this ~9 px toward the bottom right
    assert abs(centre[0] - 55.5) < 3 and abs(centre[1] - 55.5) < 3


def test_shapes_never_use_the_excluded_colour(rng):
    figure = STICKMAN_COLOURS_RGB[2]
    palette = [c for c in STICKMAN_COLOURS_RGB if c != figure]
    for _ in range(50):
        image = np.zeros((64, 64, 3), np.uint8)
        draw_shapes(image, rng, 0.7, 0.7, palette)
        assert not (image == figure).all(axis=2).any()


def test_platformer_scene_has_sky_on_top_and_ground_below():
    scene = platformer_scene(np.random.default_rng(3), 224, 896)
    assert scene.shape == (224, 896, 3) and scene.dtype == np.uint8
    top_colours, counts = np.unique(scene[2].reshape(-1, 3), axis=0, return_counts=True)
    sky = top_colours[counts.argmax()]
    assert counts.max() > 0.6 * 896                          # the top row is mostly sky
    assert (scene[-1] != sky).any(axis=1).mean() > 0.6       # the bottom row mostly ground
    np.testing.assert_array_equal(scene, platformer_scene(np.random.default_rng(3), 224, 896))
    assert not np.array_equal(scene, platformer_scene(np.random.default_rng(4), 224, 896))


def test_scene_crops_vary(rng):
    scenes = PlatformerScenes(64, seed=0, count=3)
    first, second = np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)
    scenes.draw(first, rng)
    scenes.draw(second, rng)
    assert first.any() and not np.array_equal(first, second)


def test_image_folder_crops_the_users_images(tmp_path, rng):
    picture = np.zeros((80, 120, 3), np.uint8)
    picture[:, :, 2] = 200                                   # red in BGR
    cv2.imwrite(str(tmp_path / "a.png"), picture)
    (tmp_path / "notes.txt").write_text("not an image")
    folder = ImageFolderBackgrounds(tmp_path, 64)
    image = np.zeros((64, 64, 3), np.uint8)
    folder.draw(image, rng)
    assert (image[..., 0] == 200).all() and not image[..., 1:].any()   # RGB in memory


def test_small_images_are_scaled_up(tmp_path, rng):
    cv2.imwrite(str(tmp_path / "small.jpg"), np.full((20, 30, 3), 90, np.uint8))
    image = np.zeros((64, 64, 3), np.uint8)
    ImageFolderBackgrounds(tmp_path, 64).draw(image, rng)
    assert abs(int(image.mean()) - 90) <= 2


def test_bad_background_folders(tmp_path):
    with pytest.raises(BackgroundFolderError, match="does not exist"):
        ImageFolderBackgrounds(tmp_path / "missing", 64)
    with pytest.raises(BackgroundFolderError, match="no readable image"):
        ImageFolderBackgrounds(tmp_path, 64)
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(BackgroundFolderError, match="1 file"):
        ImageFolderBackgrounds(tmp_path, 64)
