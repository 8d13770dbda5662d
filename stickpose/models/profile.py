"""Model size and speed: parameters, FLOPs and measured CPU latency per combination."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..quiet_tf import tf
from .build import build_model
from .registry import ARCHS, HEADS


def count_flops(model, input_size: int) -> int:
    """Floating-point operations for one image (a multiply-add counts 2), from TensorFlow's
    profiler over the frozen inference graph."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    function = tf.function(lambda images: model(images, training=False))
    concrete = function.get_concrete_function(
        tf.TensorSpec([1, input_size, input_size, 3], tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")                     # the v1 profiler warns it is v1
    try:
        return int(tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops)
    finally:
        logger.setLevel(level)


def measure_latency(model, input_size: int, batch: int, repeats: int) -> float:
    """Median seconds per call of the compiled forward pass on a ``batch`` of images."""
    images = tf.constant(np.random.default_rng(0).random((batch, input_size, input_size, 3),
                                                         dtype=np.float32))
    forward = tf.function(lambda x: model(x, training=False))
    forward(images)                                   # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), forward(images))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def model_table(input_size: int, width: int, archs=None, heads=None, repeats: int = 10,
                progress=None) -> pd.DataFrame:
    """One row per architecture x head: parameters, MFLOPs per image, ms per image at
    batch 1, images/s at batch 64."""
    rows = []
    for arch in archs or ARCHS.names():
        for head in heads or HEADS.names():
            size = max(input_size, ARCHS.get(arch).divisor)
            model = build_model(arch, head, size, width=width)
            rows.append({
                "arch": arch, "head": head, "input": size,
                "parameters": model.count_params(),
                "MFLOPs": round(count_flops(model, size) / 1e6, 1),
                "ms/image (batch 1)": round(1000 * measure_latency(model, size, 1, repeats), 2),
                "images/s (batch 64)": round(64 / measure_latency(model, size, 64,
                                                                  max(repeats // 3, 2))),
            })
            if progress:
                progress(1)
    return pd.DataFrame(rows)
