import numpy as np

from stickpose.data.render import draw_stickman

FAR = (60.0, 60.0)   # where unused joints are parked, out of the measured window


def _figure(**joints):
    keypoints = np.tile(np.array(FAR), (16, 1))
    for index, xy in joints.items():
        keypoints[int(index[1:])] = xy
    return keypoints


def _centroid(window):
    weight = window.astype(float)
    ys, xs = np.mgrid[:window.shape[0], :window.shape[1]]
    return (xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum()


# OpenCV's anti-aliased thick lines sit within 0.16 px of the requested position (measured
# over a 1/16 px sweep); rounding to whole pixels instead would be off by up to 0.5 px.
SUBPIXEL_TOLERANCE = 0.2


def test_limb_line_follows_its_subpixel_height():
    errors = []
    for y in np.arange(20.0, 21.0, 1 / 16):
        keypoints = _figure(j10=(10.0, y), j11=(20.0, y), j12=(30.0, y), j13=(40.0, y),
                            j14=(45.0, y), j15=(50.0, y))
        image = np.zeros((72, 72, 3), np.uint8)
        draw_stickman(image, keypoints, (255, 255, 255), 3)
        column = image[:40, 25:35, 0].astype(float).sum(axis=1)
        errors.append((np.arange(40) * column).sum() / column.sum() - y)
    assert np.abs(errors).max() < SUBPIXEL_TOLERANCE


def test_whole_figure_moves_with_fractional_label_shifts():
    base = np.array([[20, 58], [22, 46], [26, 34], [38, 34], [40, 46], [42, 58],
                     [32, 34], [32, 18], [32, 14], [32, 6], [14, 30], [18, 24],
                     [24, 18], [40, 18], [46, 24], [50, 30]], float)
    reference = np.zeros((72, 72, 3), np.uint8)
    draw_stickman(reference, base, (255, 255, 255), 2)
    x0, y0 = _centroid(reference[..., 0])
    for dx, dy in ((0.25, 0.0), (0.0, 0.5), (0.4, 0.7), (0.8, 0.3)):
        image = np.zeros((72, 72, 3), np.uint8)
        draw_stickman(image, base + (dx, dy), (255, 255, 255), 2)
        x, y = _centroid(image[..., 0])
        shift = (x - x0, y - y0)
        assert abs(shift[0] - dx) < SUBPIXEL_TOLERANCE and abs(shift[1] - dy) < SUBPIXEL_TOLERANCE


def test_head_is_a_filled_circle_between_upper_neck_and_head_top():
    keypoints = _figure(j6=(30.0, 40.0), j7=(30.0, 40.0), j8=(30.0, 30.0), j9=(30.0, 10.0))
    image = np.zeros((72, 72, 3), np.uint8)
    draw_stickman(image, keypoints, (255, 255, 255), 1)
    lit = image[..., 0] > 127
    # centre (30, 20), radius 10: points inside at 8 px from the centre, outside at 12 px
    for dx, dy in ((8, 0), (-8, 0), (0, 8), (0, -8), (6, 5)):
        assert lit[20 + dy, 30 + dx]
    for dx, dy in ((12, 0), (-12, 0), (0, -12), (9, 9)):
        assert not lit[20 + dy, 30 + dx]


def test_every_joint_lands_on_the_drawn_figure_no_xy_swap():
    # an asymmetric figure: if x and y were swapped, joints would fall on black pixels
    keypoints = np.array([[10, 60], [14, 48], [20, 36], [34, 36], [40, 48], [44, 60],
                          [27, 36], [27, 16], [27, 12], [27, 4], [5, 24], [12, 20],
                          [20, 16], [34, 16], [46, 14], [58, 10]], float) + 0.3
    image = np.zeros((64, 64, 3), np.uint8)
    draw_stickman(image, keypoints, (255, 0, 0), 2)
    pixels = np.rint(keypoints).astype(int)
    assert (image[pixels[:, 1], pixels[:, 0], 0] > 100).all()
    swapped = image[pixels[:, 0], pixels[:, 1], 0]
    assert (swapped < 100).sum() >= 4
