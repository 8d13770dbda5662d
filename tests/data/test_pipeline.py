import numpy as np

from stickpose.data.pipeline import stickman_stream
from stickpose.data.stickman import DATASET_STREAM, StickmanConfig, StickmanGenerator

CONFIG = StickmanConfig(size=32, circles=0.5, squares=0.3, backgrounds=0.5)


def test_stream_reproduces_the_generator_in_order():
    batches = list(stickman_stream(CONFIG, 4, batch_size=50, count=100,
                                   stream=DATASET_STREAM).as_numpy_iterator())
    assert [len(b["image"]) for b in batches] == [50, 50]
    images = np.concatenate([b["image"] for b in batches])
    keypoints = np.concatenate([b["keypoints"] for b in batches])
    generator = StickmanGenerator(CONFIG, 4)
    expected = np.concatenate([generator.chunk(0)[0], generator.chunk(1)[0]])[:100]
    assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(np.rint(images * 255).astype(np.uint8), expected)
    np.testing.assert_array_equal(keypoints[64:], generator.chunk(1)[1][:36])


def test_stream_is_deterministic_whatever_the_parallelism():
    serial = next(iter(stickman_stream(CONFIG, 9, batch_size=80, parallel_calls=1)))
    parallel = next(iter(stickman_stream(CONFIG, 9, batch_size=80)))
    for key in ("image", "keypoints", "visible"):
        np.testing.assert_array_equal(serial[key].numpy(), parallel[key].numpy())


def test_infinite_stream_keeps_going():
    stream = iter(stickman_stream(CONFIG, 0, batch_size=64))
    shapes = {tuple(next(stream)["image"].shape) for _ in range(5)}
    assert shapes == {(64, 32, 32, 3)}
