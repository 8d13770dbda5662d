"""Test-time flip averaging: a model's output on an image averaged with its output on the
mirror image, mapped back (mirrored again, left and right exchanged).

Heatmap heads average heatmaps (then one decoder reads the average), coordinate heads
average coordinates. Both are the model's observer-centric output, before any handedness
relabelling. Pixel centres are whole numbers (``stickpose.skeleton``), so mirroring an
``S`` px image maps ``x`` to ``S - 1 - x``; heatmap pixel ``j`` of stride ``s`` is centred
on ``j * s + (s - 1) / 2``, so reversing a heatmap's columns is the same mirror. The
averaged output of a mirrored image is therefore the mirrored output of the image, exactly,
for any network.

``unmirror`` and ``averaged`` work on NumPy arrays, ``unmirror_graph`` and
``averaged_graph`` on tensors inside an exported graph.
"""
from __future__ import annotations

import numpy as np

from ..skeleton import FLIP_INDEX

FLIP = "flip"       # how results and exports name flip-averaged predictions


def mirror_images(images: np.ndarray) -> np.ndarray:
    """Images ``(n, h, w, c)`` mirrored left to right."""
    return images[:, :, ::-1]


def unmirror(output: np.ndarray, target: str, input_size: int) -> np.ndarray:
    """The output a model gave for mirrored images, mapped back onto the images: heatmaps
    ``(n, h, w, 16)`` mirrored with their joints exchanged; coordinates ``(n, 16, 2)``
    (fractions of the ``input_size``, as the heads predict them) likewise."""
    if target == "heatmaps":
        return output[:, :, ::-1][..., list(FLIP_INDEX)]
    back = np.array(output[:, list(FLIP_INDEX)], dtype=output.dtype)
    back[..., 0] = (input_size - 1) / input_size - back[..., 0]
    return back


def averaged(output: np.ndarray, mirrored: np.ndarray, target: str,
             input_size: int) -> np.ndarray:
    """The flip-averaged output from the output on the images and on their mirrors."""
    return (output + unmirror(mirrored, target, input_size)) / 2


def unmirror_graph(output, target: str, input_size: int):
    """``unmirror`` on tensors (in an exported graph)."""
    from ..quiet_tf import tf

    if target == "heatmaps":
        return tf.gather(tf.reverse(output, axis=[2]), FLIP_INDEX, axis=-1)
    back = tf.gather(output, FLIP_INDEX, axis=1)
    return tf.stack([(input_size - 1) / input_size - back[..., 0], back[..., 1]], axis=-1)


def averaged_graph(output, mirrored, target: str, input_size: int):
    """``averaged`` on tensors (in an exported graph)."""
    return (output + unmirror_graph(mirrored, target, input_size)) / 2
