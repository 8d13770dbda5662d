import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from stickpose.codecs.coordinates import normalise
from stickpose.codecs.gaussian import GaussianHeatmaps
from stickpose.data.stickman import StickmanConfig, StickmanGenerator
from stickpose.errors import StickposeError
from stickpose.models.registry import load_all
from stickpose.models.build import build_model
from stickpose.models.registry import ARCHS, HEADS
from stickpose.train import RunError, TrainConfig, heatmap_loss, train

import keras

load_all()


@pytest.fixture(scope="module")
def batch():
    images, keypoints, visible = StickmanGenerator(StickmanConfig(size=32), 0).chunk(0)
    return images[:8].astype(np.float32) / 255.0, keypoints[:8], visible[:8]


@pytest.mark.parametrize("arch", ARCHS.names())
@pytest.mark.parametrize("head", HEADS.names())
def test_training_steps_lower_the_loss_on_a_fixed_batch(arch, head, batch):
    keras.utils.set_random_seed(0)
    size = 32 if ARCHS.get(arch).divisor <= 32 else ARCHS.get(arch).divisor
    images, keypoints, visible = batch
    if size != 32:
        images = np.repeat(np.repeat(images, 2, 1), 2, 2)[:, :size, :size]
        keypoints = keypoints * 2 + 0.5
    model = build_model(arch, head, size, width=8, heatmap_stride=2)
    if HEADS.get(head).target == "heatmaps":
        target, loss = GaussianHeatmaps(size, 2).encode(keypoints, visible), heatmap_loss
    else:
        target, loss = normalise(keypoints, size), "mean_absolute_error"
    targets = {name: target for name in model.output}
    model.compile(keras.optimizers.Adam(3e-3), loss={name: loss for name in model.output})
    # training-mode losses: batch norm's moving averages lag behind over so few steps
    losses = model.fit(images, targets, epochs=20, batch_size=8, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("head", HEADS.names())
def test_saved_model_reloads_with_identical_predictions(tmp_path, head, batch):
    model = build_model("hourglass", head, 64, width=8)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path, compile=False)
    images = np.repeat(np.repeat(batch[0], 2, 1), 2, 2)
    first, second = model.predict(images, verbose=0), again.predict(images, verbose=0)
    for key in first:
        np.testing.assert_allclose(first[key], second[key], atol=1e-6)


TINY = dict(arch="resnet", head="heatmap", input_size=32, width=8, batch_size=8,
            steps_per_epoch=3, validation_count=16, test_count=16)


def test_a_tiny_run_writes_every_artefact(tmp_path):
    config = TrainConfig(**TINY, epochs=2)
    evaluation = train(config, tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    for name in ("config.json", "best.keras", "history.csv", "curves.png", "predictions.png",
                 "evaluation.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "config.json").read_text())["arch"] == "resnet"
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved == evaluation and list(saved["sets"]) == ["test1", "test2", "test3", "test4"]
    for values in saved["sets"].values():
        assert set(values) == {"score", "flip_score", "swap", "pck", "mpjpe", "mse",
                               "images"} and values["images"] == 16
    assert not (run / "backup").exists()                      # removed once finished
    assert saved["epochs"] == 2 and saved["train_images_per_second"] > 0


def test_same_seed_same_numbers_and_overwrite(tmp_path):
    config = TrainConfig(**TINY, epochs=1)
    first = train(config, tmp_path / "a", verbose=0)["sets"]
    second = train(config, tmp_path / "b", verbose=0)["sets"]
    assert first == second
    with pytest.raises(RunError, match="the run has finished"):
        train(config, tmp_path / "a", resume=True)
    again = train(config, tmp_path / "a", overwrite=True, verbose=0)["sets"]
    assert again == first


def test_resume_continues_an_interrupted_run(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "stickpose", "train", "--arch", "resnet", "--input-size",
               "32", "--width", "8", "--batch-size", "8", "--steps", "40", "--epochs", "4",
               "--test-count", "16", "--out", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        history = run / "history.csv"
        if history.is_file() and len(history.read_text().splitlines()) >= 3:   # 2 epochs
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (run / "backup").is_dir() and not (run / "evaluation.json").exists()
    done = len((run / "history.csv").read_text().splitlines()) - 1
    train(TrainConfig(), run, resume=True, verbose=0)         # settings come from the run
    epochs = [int(line.split(",")[0]) for line in
              (run / "history.csv").read_text().splitlines()[1:]]
    assert epochs == list(range(4)) and done >= 2
    assert (run / "evaluation.json").is_file()


def test_run_directory_errors(tmp_path):
    with pytest.raises(RunError, match="no config.json there"):
        train(TrainConfig(**TINY), tmp_path / "nothing", resume=True)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="cannot read run config"):
        train(TrainConfig(**TINY), tmp_path / "corrupt", resume=True)
    with pytest.raises(RunError, match="already holds a run; pass --resume"):
        train(TrainConfig(**TINY), tmp_path / "corrupt")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(RunError, match="not a stickpose run"):
        train(TrainConfig(**TINY), tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "epochs 0 must be a positive integer"),
    ({"learning_rate": -1.0}, "learning_rate -1.0 must be positive"),
    ({"schedule": "warm"}, "schedule 'warm' is unknown"),
])
def test_bad_settings(values, message):
    with pytest.raises(StickposeError, match=message):
        TrainConfig(**values)
