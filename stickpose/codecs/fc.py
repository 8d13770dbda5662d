"""The fully connected decoder (seed report 000): per joint, two dense layers of 128 then
(x, y), reading that joint's frozen heatmap. Trained by ``stickpose train-decoder RUN`` and
saved in the run as ``decoder-fc.keras``."""
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

FILE_NAME = "decoder-fc.keras"
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


def load_fc(run: Path) -> keras.Model:
    """The trained fc decoder of a run."""
    path = Path(run) / FILE_NAME
    if not path.is_file():
        raise StickposeError(f"run {run} has no trained fc decoder ({FILE_NAME}); train it "
                             "with `stickpose train-decoder RUN`")
    return keras.models.load_model(path, compile=False)


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


def train_fc(run: Path, epochs: int = 10, steps_per_epoch: int = 100, batch_size: int = 32,
             learning_rate: float = 1e-3, verbose: int = 1) -> dict:
    """Fit the fc decoder of a heatmap run on its frozen model's heatmaps of freshly
    rendered training-noise images (a stream of their own, seeded by the run's seed) and
    save it as ``RUN/decoder-fc.keras``. Returns the final losses."""
    from ..data.pipeline import stickman_stream
    from ..data.stickman import DECODER_STREAM
    from ..data.render import resize_set
    from ..evaluate import render_set
    from ..models.registry import HEADS
    from ..train import RunError, load_run, load_run_suite, stream_config, validation_spec
    from .coordinates import normalise

    run = Path(run)
    config, model = load_run(run)
    if HEADS.get(config.head).target != "heatmaps":
        raise RunError(f"run {run} has a {config.head} head; the fc decoder reads heatmaps")
    keras.utils.set_random_seed(config.seed)
    model.trainable = False                               # frozen: BatchNorm in inference
    heatmaps = model(model.inputs[0])["heatmaps"]
    decoder = fc_decoder(heatmaps.shape[1])
    joined = keras.Model(model.inputs[0], decoder(heatmaps), name="frozen_heatmaps_fc")
    joined.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mean_absolute_error")

    def pairs(batch):
        return batch["image"], normalise(batch["keypoints"], config.input_size)
    suite = load_run_suite(config)
    data = stickman_stream(stream_config(config, suite), config.seed, batch_size=batch_size,
                           stream=DECODER_STREAM, output_size=config.input_size).map(pairs)
    images, keypoints, _ = render_set(validation_spec(config, suite), config.validation_count)
    images, keypoints = resize_set(images, keypoints, config.input_size)
    validation = (images.astype(np.float32) / 255.0,
                  normalise(keypoints, config.input_size).astype(np.float32))
    history = joined.fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                         validation_data=validation, shuffle=False, verbose=verbose)
    temporary = run / f".{FILE_NAME}.tmp.keras"
    decoder.save(temporary)
    temporary.replace(run / FILE_NAME)
    return {k: float(v[-1]) for k, v in history.history.items()}
