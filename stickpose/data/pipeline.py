"""tf.data pipelines over the stickman generator: an infinite, parallel, seeded stream."""
from __future__ import annotations

import tensorflow as tf

from ..skeleton import NUM_JOINTS
from .stickman import CHUNK_SIZE, TRAINING_STREAM, StickmanConfig, StickmanGenerator


def stickman_stream(config: StickmanConfig, seed: int, batch_size: int | None = None,
                    count: int | None = None, stream: int = TRAINING_STREAM,
                    parallel_calls: int = tf.data.AUTOTUNE) -> tf.data.Dataset:
    """Images rendered on the fly: infinite unless ``count`` is given.

    Chunks render in parallel threads, in order, so the stream is the same for the same seed
    and config whatever the parallelism; memory stays constant (tf.data keeps only a bounded
    number of chunks in flight). Elements are dicts: ``image (S, S, 3) float32`` in [0, 1]
    RGB, ``keypoints (16, 2) float32`` xy pixels, ``visible (16,) bool`` (batched along a
    leading axis when ``batch_size`` is given).
    """
    generator = StickmanGenerator(config, seed, stream)
    generator.check_backgrounds()
    size = config.size
    chunks = tf.data.Dataset.range(tf.int64.max if count is None else -(-count // CHUNK_SIZE))

    @tf.autograph.experimental.do_not_convert
    def chunk(index):
        return generator.chunk(int(index))

    def render(index):
        images, keypoints, visible = tf.numpy_function(
            chunk, [index], (tf.uint8, tf.float32, tf.bool), stateful=False)
        images.set_shape((CHUNK_SIZE, size, size, 3))
        keypoints.set_shape((CHUNK_SIZE, NUM_JOINTS, 2))
        visible.set_shape((CHUNK_SIZE, NUM_JOINTS))
        return {"image": images, "keypoints": keypoints, "visible": visible}

    data = chunks.map(render, num_parallel_calls=parallel_calls, deterministic=True).unbatch()
    if count is not None:
        data = data.take(count)
    data = data.map(lambda e: {**e, "image": tf.cast(e["image"], tf.float32) / 255.0},
                    num_parallel_calls=parallel_calls, deterministic=True)
    if batch_size:
        data = data.batch(batch_size, drop_remainder=count is None)
    return data.prefetch(tf.data.AUTOTUNE)
