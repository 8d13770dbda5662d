import numpy as np

from stickpose.codecs.gaussian import GaussianHeatmaps


def test_target_peaks_at_the_subpixel_keypoint():
    codec = GaussianHeatmaps(64, stride=4, sigma=1.0)
    # keep the Gaussians ~3 sigma inside the 16 x 16 map so that none is cut off
    keypoints = np.random.default_rng(0).uniform(14, 49, (3, 16, 2)).astype(np.float32)
    maps = np.asarray(codec.encode(keypoints))
    assert maps.shape == (3, 16, 16, 16)
    # the intensity-weighted centre of each target is the keypoint (away from borders)
    ys, xs = np.mgrid[:16, :16]
    for b in range(3):
        for j in range(16):
            m = maps[b, :, :, j]
            centre = np.array([(xs * m).sum(), (ys * m).sum()]) / m.sum()
            np.testing.assert_allclose(codec.to_input(centre), keypoints[b, j], atol=0.05)
    assert maps.max() <= 1.0


def test_invisible_joints_get_empty_maps():
    codec = GaussianHeatmaps(32, stride=2)
    visible = np.ones((1, 16), bool)
    visible[0, 3] = False
    maps = np.asarray(codec.encode(np.full((1, 16, 2), 10.0, np.float32), visible))
    assert not maps[0, :, :, 3].any() and maps[0, :, :, 4].max() > 0.9
