"""The fully connected decoder (seed report 000): per joint, two dense layers of 128 then
(x, y), reading that joint's frozen heatmap. Trained by ``stickpose train-decoder RUN``
(``train.train_decoder``) and saved in the run as ``decoder-fc.keras``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
import keras
from keras import layers

from ..errors import StickposeError
from ..skeleton import NUM_JOINTS
from .coordinates import denormalise
from .decoders import check_heatmaps

HIDDEN = 128


def fc_decoder(heatmap_size: int, hidden: int = HIDDEN) -> keras.Model:
    """Heatmaps ``(B, h, w, 16)`` -> coordinates ``(B, 16, 2)`` as fractions of the input
    size. Each joint has its own weights (one einsum over the joint axis)."""
    maps = keras.Input((heatmap_size, heatmap_size, NUM_JOINTS), name="heatmaps")
    x = layers.Permute((3, 1, 2), name="fc_joints_first")(maps)
    x = layers.Reshape((NUM_JOINTS, heatmap_size * heatmap_size), name="fc_flatten")(x)
    for index, units in enumerate((hidden, hidden, 2), start=1):
        x = layers.EinsumDense("bjn,jnk->bjk", output_shape=(NUM_JOINTS, units),
                               bias_axes="jk", activation="relu" if units != 2 else None,
                               name=f"fc_dense{index}")(x)
    return keras.Model(maps, x, name="fc_decoder")


def load_fc(path: Path) -> keras.Model:
    """A trained fc decoder from its file (a run's ``decoder-fc.keras``)."""
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as error:
        raise StickposeError(f"cannot load the fc decoder {path}: {error}") from None


def decode_fc(model: keras.Model, heatmaps, input_size: int, batch_size: int = 256):
    """Keypoints ``(B, 16, 2)`` input px and scores ``(B, 16)`` (each map's peak)."""
    heatmaps = check_heatmaps(heatmaps, input_size)
    expected = model.input_shape[1]
    if heatmaps.shape[1] != expected:
        raise StickposeError(f"the fc decoder reads {expected} x {expected} heatmaps, "
                             f"not {heatmaps.shape[1]} x {heatmaps.shape[2]}")
    coordinates = model.predict(heatmaps, batch_size=batch_size, verbose=0)
    return (denormalise(np.asarray(coordinates, np.float32), input_size),
            heatmaps.max(axis=(1, 2)))
