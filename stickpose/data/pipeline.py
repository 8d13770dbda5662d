"""tf.data pipelines over the stickman generator: an infinite, parallel, seeded stream."""
from __future__ import annotations

import atexit
import threading
import time

from ..quiet_tf import tf

import numpy as np

from ..skeleton import NUM_JOINTS
from .render import resize_set
from .shards import chunk_in_shard, in_shard, shard_part
from .stickman import CHUNK_SIZE, TRAINING_STREAM, StickmanConfig, StickmanGenerator


class _RenderCalls:
    """Counts renders that tf.data threads are running in Python.

    If the interpreter shuts down while a tf.data thread is inside (or waiting to enter) a
    ``numpy_function``, TensorFlow aborts or hangs at exit. At exit this waits (at most
    ``timeout`` s) until no render has run for ``quiet`` s: by then the pipelines' bounded
    buffers are full and their threads idle, and the process ends cleanly.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.last = 0.0

    def __enter__(self):
        with self.lock:
            self.running += 1

    def __exit__(self, *error):
        with self.lock:
            self.running -= 1
            self.last = time.monotonic()

    def settle(self, timeout: float = 10.0, quiet: float = 0.3) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.running == 0 and time.monotonic() - self.last > quiet:
                    return
            time.sleep(0.02)


_RENDERS = _RenderCalls()
atexit.register(_RENDERS.settle)


def stickman_stream(config: StickmanConfig, seed: int, batch_size: int | None = None,
                    count: int | None = None, stream: int = TRAINING_STREAM,
                    parallel_calls: int = tf.data.AUTOTUNE, start: int = 0,
                    output_size: int | None = None,
                    shard: tuple[int, int] = (0, 1)) -> tf.data.Dataset:
    """Images rendered on the fly from image ``start`` on: infinite unless ``count`` is given.

    Chunks render in parallel threads, in order, so the stream is the same for the same seed
    and config whatever the parallelism; memory stays constant (tf.data keeps only a bounded
    number of chunks in flight). Elements are dicts: ``image (S, S, 3) float32`` in [0, 1]
    RGB, ``keypoints (16, 2) float32`` xy pixels, ``visible (16,) bool`` (batched along a
    leading axis when ``batch_size`` is given). With ``output_size``, images rendered at
    ``config.size`` are resized to it (area interpolation, keypoints mapped along), as
    evaluation resizes test images to the model input.

    ``shard=(index, workers)``: worker ``index``'s part of each batch of ``batch_size``
    (``shards.in_shard``), in batches of ``batch_size / workers``; chunks holding none of its images
    are not rendered.
    """
    generator = StickmanGenerator(config, seed, stream)
    generator.check_backgrounds()
    size = output_size or config.size
    part = shard_part(batch_size, shard)
    first_chunk = start // CHUNK_SIZE
    end = tf.int64.max if count is None else -(-(start + count) // CHUNK_SIZE)
    chunks = tf.data.Dataset.range(first_chunk, end)
    if shard[1] > 1:
        chunks = chunks.filter(lambda k: chunk_in_shard(
            tf.maximum(k * CHUNK_SIZE - start, 0), (k + 1) * CHUNK_SIZE - start, batch_size,
            shard))

    @tf.autograph.experimental.do_not_convert
    def chunk(index):
        with _RENDERS:
            images, keypoints, visible = generator.chunk(int(index))
            images, keypoints = resize_set(images, keypoints, size)
            return images, keypoints.astype(np.float32), visible

    def render(index):
        images, keypoints, visible = tf.numpy_function(
            chunk, [index], (tf.uint8, tf.float32, tf.bool), stateful=False)
        images.set_shape((CHUNK_SIZE, size, size, 3))
        keypoints.set_shape((CHUNK_SIZE, NUM_JOINTS, 2))
        visible.set_shape((CHUNK_SIZE, NUM_JOINTS))
        offsets = index * CHUNK_SIZE + tf.range(CHUNK_SIZE, dtype=tf.int64) - start
        return {"image": images, "keypoints": keypoints, "visible": visible,
                "offset": offsets}

    def wanted(element):                # from image start on, count of them, this shard's
        offset = element["offset"]
        keep = offset >= 0
        if count is not None:
            keep = keep & (offset < count)
        if shard[1] > 1:
            keep = keep & in_shard(offset, batch_size, shard)
        return keep

    data = chunks.map(render, num_parallel_calls=parallel_calls, deterministic=True).unbatch()
    data = data.filter(wanted)
    data = data.map(lambda e: {"image": tf.cast(e["image"], tf.float32) / 255.0,
                               "keypoints": e["keypoints"], "visible": e["visible"]},
                    num_parallel_calls=parallel_calls, deterministic=True)
    if batch_size:
        data = data.batch(part, drop_remainder=count is None)
    return data.prefetch(tf.data.AUTOTUNE)

