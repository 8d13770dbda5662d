import numpy as np

from stickpose.codecs import gmm
from stickpose.codecs.decoders import decode
from stickpose.codecs.gaussian import GaussianHeatmaps

R_KNEE, L_KNEE = 1, 4


def _blobs(centres, peaks, size=32, sigma=1.5):
    """One map ``(size, size)`` holding a Gaussian blob of each peak height per centre."""
    ys, xs = np.mgrid[:size, :size]
    return np.max([p * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
                   for (x, y), p in zip(centres, peaks)], axis=0)


def _spread_maps(size=32):
    """``(1, size, size, 16)``: every joint a single blob on its own spot of a 4 x 4 grid."""
    maps = np.zeros((1, size, size, 16), np.float32)
    for j in range(16):
        maps[0, :, :, j] = _blobs([(4 + 8 * (j % 4), 4 + 8 * (j // 4))], [1.0], size)
    return maps


def test_top_pixels_are_the_highest_first():
    maps = np.zeros((1, 1, 4, 5))
    maps[0, 0, 2, 3], maps[0, 0, 0, 1], maps[0, 0, 3, 0] = 0.9, 0.8, 0.7
    np.testing.assert_array_equal(gmm.top_pixels(maps, 3)[0, 0], [[3, 2], [1, 0], [0, 3]])


def test_batched_em_reproduces_scikit_learn():
    rng = np.random.default_rng(0)
    codec = GaussianHeatmaps(64, 2, 1.5)
    maps = np.asarray(codec.encode(rng.uniform(4, 60, (3, 16, 2))))
    second = np.asarray(codec.encode(rng.uniform(4, 60, (3, 16, 2))))
    maps = np.maximum(maps + rng.normal(0, 0.05, maps.shape), 0.8 * second)   # bimodal, noisy
    points = gmm.top_pixels(maps.transpose(0, 3, 1, 2)).reshape(-1, gmm.TOP_PIXELS, 2)
    ours, ours_weights = gmm.fit_batched(points)
    theirs, their_weights = gmm.fit_sklearn(points)
    np.testing.assert_allclose(ours, theirs, atol=1e-3)
    np.testing.assert_allclose(ours_weights, their_weights, atol=1e-4)


def test_gmm_takes_the_heavier_mode_of_a_bimodal_map():
    maps = _spread_maps()
    maps[0, :, :, 0] = _blobs([(6, 6), (24, 20)], [0.8, 1.0], sigma=2.0)
    points, _ = decode("gmm", maps, 32)
    # the heaviest of three components sits inside the heavier mode (23 px from the other),
    # not exactly on its peak: the mode's 20 pixels are shared by two components
    assert np.hypot(*(points[0, 0] - [24, 20])) < 1.5


def test_dedup_separates_two_knees_sharing_an_argmax():
    """Seed 000's example: both knees' maps peak on the same knee, the other knee is a
    weaker second mode. GMM puts both knees there; dedup-GMM gives one the other mode."""
    maps = _spread_maps()
    shared, other = (12, 22), (22, 10)
    maps[0, :, :, R_KNEE] = _blobs([shared, other], [1.0, 0.9])
    maps[0, :, :, L_KNEE] = _blobs([shared, other], [1.0, 0.85])
    plain, _ = decode("gmm", maps, 32)
    assert np.hypot(*(plain[0, R_KNEE] - shared)) < 1 and np.hypot(*(plain[0, L_KNEE] - shared)) < 1
    dedup, _ = decode("dedup-gmm", maps, 32)
    knees = dedup[0, [R_KNEE, L_KNEE]]
    assert np.hypot(*(knees[0] - knees[1])) > 8
    assert min(np.hypot(*(k - other)) for k in knees) < 1.5
    untouched = [j for j in range(16) if j not in (R_KNEE, L_KNEE)]
    np.testing.assert_allclose(dedup[0, untouched], plain[0, untouched])


def test_deduplicate_rules_by_hand():
    means = np.zeros((16, 3, 2))
    weights = np.zeros((16, 3))
    for j in range(16):                               # every joint far from the others
        means[j, :, 0], means[j, :, 1] = 100 + 10 * j, 100
        weights[j] = [0.9, 0.09, 0.01]
    means[2, 0] = means[3, 0] = [50, 50]              # both hips on one spot
    means[3, 1] = [51, 51]                            # within sqrt 5: rejected
    means[3, 2] = [60, 50]                            # far enough and weight 0.01: accepted
    weights[3] = [0.8, 0.19, 0.01]
    means[7, 0] = [50, 51]                            # thorax (not lateral) keeps its heaviest
    means[10, 0] = means[15, 0] = [20, 20]            # both wrists together...
    means[15, 1:] = [[20.5, 20.5], [21, 21]]          # ...and no acceptable alternative
    weights[15] = [0.5, 0.495, 0.005]
    points = gmm.deduplicate(means, weights)
    np.testing.assert_allclose(points[2], [50, 50])
    np.testing.assert_allclose(points[3], [60, 50])
    np.testing.assert_allclose(points[7], [50, 51])
    np.testing.assert_allclose(points[10], [20, 20])
    np.testing.assert_allclose(points[15], [20, 20])  # step 4: falls back to the heaviest
