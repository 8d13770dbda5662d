"""Test-time flip averaging (``codecs.flip``): mapping a mirrored image's output back agrees
with the codecs' pixel convention, makes any network's keypoints mirror with its image, and
the in-graph version equals the NumPy one."""
import numpy as np
import pytest

from stickpose.codecs.coordinates import normalise
from stickpose.codecs.flip import (averaged, averaged_graph, mirror_images, unmirror,
                                   unmirror_graph)
from stickpose.codecs.gaussian import GaussianHeatmaps
from stickpose.evaluate import forward, to_keypoints
from stickpose.models.build import build_model
from stickpose.quiet_tf import tf
from stickpose.skeleton import FLIP_INDEX

SIZE = 32


def _mirrored_keypoints(keypoints, size):
    """What a keypoint set becomes in the mirror image: x -> size - 1 - x (pixel centres
    are whole numbers), left and right exchanged."""
    mirrored = np.array(keypoints, np.float64)[:, list(FLIP_INDEX)]
    mirrored[..., 0] = size - 1 - mirrored[..., 0]
    return mirrored


def _keypoints(rng, n=5, size=SIZE):
    return rng.uniform(2, size - 3, (n, 16, 2))


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_unmirroring_a_mirrored_poses_targets_gives_the_poses_targets(stride):
    """The targets of the mirrored keypoints, mapped back, are the keypoints' own targets:
    heatmap columns and coordinates use the pixel convention the codecs train with."""
    keypoints = _keypoints(np.random.default_rng(stride))
    codec = GaussianHeatmaps(SIZE, stride, 1.5)
    own = codec.encode(keypoints).numpy()
    mirrored = codec.encode(_mirrored_keypoints(keypoints, SIZE)).numpy()
    np.testing.assert_allclose(unmirror(mirrored, "heatmaps", SIZE), own, atol=1e-6)
    np.testing.assert_allclose(
        unmirror(normalise(_mirrored_keypoints(keypoints, SIZE), SIZE), "coordinates", SIZE),
        normalise(keypoints, SIZE), atol=1e-12)


@pytest.mark.parametrize("head,target", [("heatmap", "heatmaps"), ("scalar", "coordinates"),
                                         ("integral", "coordinates")])
def test_a_mirrored_image_gives_the_mirrored_keypoints(head, target):
    """With flip averaging, an untrained (so asymmetric) network's output on a mirrored
    image is exactly its output on the image, mirrored; without it, it is not."""
    import keras
    keras.utils.set_random_seed(3)
    model = build_model("resnet", head, SIZE, width=4)
    images = np.random.default_rng(0).integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8)
    flipped = np.ascontiguousarray(mirror_images(images))

    def outputs(flip):
        return (forward(model, images, target, flip=flip)[0],
                forward(model, flipped, target, flip=flip)[0])
    own, of_mirror = outputs(True)
    residual = np.abs(unmirror(of_mirror, target, SIZE) - own).max()
    plain, plain_mirror = outputs(False)
    asymmetry = np.abs(unmirror(plain_mirror, target, SIZE) - plain).max()
    assert residual <= 1e-6 and asymmetry > 100 * max(residual, 1e-7), (residual, asymmetry)
    np.testing.assert_allclose(own, averaged(plain, plain_mirror, target, SIZE), atol=1e-6)
    if target == "coordinates":            # the same in keypoints, input pixels
        np.testing.assert_allclose(
            to_keypoints("coordinates", of_mirror, SIZE, 1.5),
            _mirrored_keypoints(to_keypoints("coordinates", own, SIZE, 1.5), SIZE), atol=1e-4)


@pytest.mark.parametrize("target,shape", [("heatmaps", (3, 16, 16, 16)),
                                          ("coordinates", (3, 16, 2))])
def test_the_graph_version_equals_the_numpy_one(target, shape):
    output = np.random.default_rng(1).random(shape).astype(np.float32)
    got = unmirror_graph(tf.constant(output), target, SIZE).numpy()
    np.testing.assert_allclose(got, unmirror(output, target, SIZE), atol=1e-7)
    np.testing.assert_allclose(unmirror(unmirror(output, target, SIZE), target, SIZE), output,
                               atol=1e-6)
    other = np.random.default_rng(2).random(shape).astype(np.float32)
    np.testing.assert_allclose(averaged_graph(tf.constant(output), tf.constant(other), target,
                                              SIZE).numpy(),
                               averaged(output, other, target, SIZE), atol=1e-7)
