import json

import numpy as np
import pytest

from stickpose.codecs.coordinates import normalise
from stickpose.codecs.gaussian import GaussianHeatmaps
from stickpose.data.stickman import StickmanConfig, StickmanGenerator
from stickpose.errors import StickposeError
from stickpose.models.build import build_model
from stickpose.models.registry import ARCHS, HEADS
from stickpose.runs import CONFIG_SCHEMA, FINISHED, RunDir, RunError, TrainConfig
from stickpose.training import heatmap_loss, train

import keras



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
                               "ap", "ap50", "ap75", "ar",
                               "images", "data_id", "canonical", "source"}
        assert values["images"] == 16 and values["canonical"]
    assert not (run / "backup").exists()                      # removed once finished
    assert saved["epochs"] == 2 and saved["train_images_per_second"] > 0
    assert saved["stopped_by"] == "epochs" and RunDir(run).state().kind == FINISHED
    assert json.loads((run / "config.json").read_text())["schema"] == CONFIG_SCHEMA


def test_same_seed_same_numbers_and_overwrite(tmp_path):
    config = TrainConfig(**TINY, epochs=1)
    first = train(config, tmp_path / "a", verbose=0)["sets"]
    second = train(config, tmp_path / "b", verbose=0)["sets"]
    assert first == second
    assert train(config, tmp_path / "a", resume=True)["sets"] == first   # not trained again
    with pytest.raises(RunError, match=r"already holds a run \(finished \(1 epochs\)\); pass"):
        train(config, tmp_path / "a")
    again = train(config, tmp_path / "a", overwrite=True, verbose=0)["sets"]
    assert again == first


def test_run_directory_errors(tmp_path):
    with pytest.raises(RunError, match="no config.json there"):
        train(TrainConfig(**TINY), tmp_path / "nothing", resume=True)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="cannot read run config"):
        train(TrainConfig(**TINY), tmp_path / "corrupt", resume=True)
    with pytest.raises(RunError, match="a run that cannot be continued .*; pass --overwrite"):
        train(TrainConfig(**TINY), tmp_path / "corrupt")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(RunError, match="not a stickpose run"):
        train(TrainConfig(**TINY), tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_config_files_are_read_strictly(tmp_path):
    path = tmp_path / "config.json"
    values = json.loads(TrainConfig(**TINY).to_json())
    path.write_text(json.dumps({**values, "colour": True}))
    with pytest.raises(RunError, match="unknown setting.s. colour"):
        TrainConfig.load(path)
    path.write_text(json.dumps({**values, "schema": CONFIG_SCHEMA + 1}))
    with pytest.raises(RunError, match="upgrade stickpose"):
        TrainConfig.load(path)
    old = {k: v for k, v in values.items() if k not in ("schema", "suite")}
    path.write_text(json.dumps({**old, "train_suite": "class"}))   # before the schema
    assert TrainConfig.load(path).suite == "class"
    for schema in (True, -5, "1"):
        path.write_text(json.dumps({**values, "schema": schema}))
        with pytest.raises(RunError, match="has schema"):
            TrainConfig.load(path)
    for arch, message in ((3, "arch 3 must be a name or MODULE:NAME"),
                          ("my_nets:", "arch 'my_nets:' is not an import string"),
                          ("my_nets:9net", "is not an import string")):
        path.write_text(json.dumps({**values, "arch": arch}))
        with pytest.raises(RunError, match=message):
            TrainConfig.load(path)
    path.write_text(json.dumps({**values, "arch_options": ["stacks", 3]}))
    with pytest.raises(RunError, match="arch_options .* must be a mapping of names"):
        TrainConfig.load(path)
    path.write_text(json.dumps({**values, "epochs": "many"}))
    with pytest.raises(RunError, match="epochs 'many' must be a positive integer"):
        TrainConfig.load(path)


def test_overwrite_replaces_only_the_runs_own_files(tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(**TINY, epochs=1), run, verbose=0)
    (run / "notes.txt").write_text("mine")
    train(TrainConfig(**TINY, epochs=1, seed=1), run, overwrite=True, verbose=0)
    assert (run / "notes.txt").read_text() == "mine"
    assert RunDir(run).config().seed == 1


def test_init_compares_only_what_shapes_the_weights(tmp_path):
    source = tmp_path / "source"
    train(TrainConfig(**TINY, epochs=1), source, verbose=0)
    # another seed, learning rate or budget: the same model
    train(TrainConfig(**TINY, epochs=2, seed=3, learning_rate=1e-3, init=str(source)),
          tmp_path / "b", verbose=0)
    with pytest.raises(RunError, match="--init .* has width 8 but this run has 16"):
        train(TrainConfig(**{**TINY, "width": 16}, epochs=1, init=str(source)),
              tmp_path / "c", verbose=0)
    assert not (tmp_path / "c").exists()


def test_a_suite_without_validation_or_tests_is_refused_before_writing(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text("[suite]\nname = 'mine'\n[defaults]\nsize = 64\n"
                     "[sets.test1]\nseed = 1\ncount = 10\n[streams.train]\nseed = 2\n")
    with pytest.raises(StickposeError, match="has no set 'validation'"):
        train(TrainConfig(**TINY, suite=str(suite)), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
    suite.write_text("[suite]\nname = 'mine'\n[defaults]\nsize = 64\n"
                     "[sets.validation]\nseed = 1\ncount = 10\n[streams.train]\nseed = 2\n")
    with pytest.raises(StickposeError, match="has no test set"):
        train(TrainConfig(**TINY, suite=str(suite)), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "epochs 0 must be a positive integer"),
    ({"learning_rate": -1.0}, "learning_rate -1.0 must be a positive finite number"),
    ({"minutes": float("inf")}, "minutes inf must be a positive finite number"),
    ({"deconv": "yes"}, "deconv 'yes' must be true or false"),
    ({"batch_size": 10 ** 20}, "batch_size 100000000000000000000 is more than 65,536"),
    ({"heatmap_stride": 3}, "heatmap_stride 3 must be one of 1, 2, 4, 8, 16"),
    ({"schedule": "warm"}, "schedule 'warm' is unknown"),
    ({"schedule": "cosine-time"}, "schedule cosine-time decays over the training time: it "
                                  "needs minutes"),
])
def test_bad_settings(values, message):
    with pytest.raises(StickposeError, match=message):
        TrainConfig(**values)


def test_damaged_runs_are_refused_before_any_training(tmp_path):
    run = tmp_path / "run"
    train(TrainConfig(**TINY, epochs=2), run, verbose=0)
    # as if killed after the first epoch: one row of history and its backup
    history = (run / "history.csv").read_text().splitlines()
    (run / "history.csv").write_text("\n".join(history[:2]) + "\n")
    (run / "evaluation.json").unlink()
    train_dir = RunDir(run)
    (run / "backup").mkdir()
    (run / "backup" / "epoch00001.weights.h5").write_bytes(b"")
    assert train_dir.state().kind == "training"
    (run / "best.keras").unlink()
    assert train_dir.state().kind == "broken" and "no best.keras" in train_dir.state().why
    with pytest.raises(RunError, match="cannot resume: .* no best.keras"):
        train(TrainConfig(), run, resume=True, verbose=0)
    (run / "history.csv").write_text("\n".join([history[0], history[1], history[1]]) + "\n")
    assert "does not list epochs 0, 1, 2" in train_dir.state().why


def test_a_model_that_does_not_match_its_config_is_refused(tmp_path):
    from stickpose.runs import load_run

    run = tmp_path / "run"
    train(TrainConfig(**TINY, epochs=1), run, verbose=0)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "arch": "unet"}))
    with pytest.raises(RunError, match="holds a resnet-heatmap model for 32 px but "
                                       "config.json says unet-heatmap at 32 px"):
        load_run(run)
    (run / "config.json").write_text(json.dumps(config))
    data = (run / "best.keras").read_bytes()
    (run / "best.keras").write_bytes(data[:len(data) // 2])
    with pytest.raises(RunError, match="damaged or not a Keras model"):
        load_run(run)


def test_training_on_a_mix_of_pose_sources(tmp_path):
    """``--poses procedural2:1,BANK:1``: recorded in config.json, drawn by the stream (half
    of its poses are the bank's one marked pose), and named when it is wrong."""
    from stickpose.data.stickman import StickmanGenerator
    from stickpose.data.suites import load_suite
    from stickpose.runs import stream_config
    from tests.cli_helpers import fails_with, invoke, ok

    bank = tmp_path / "bank.npy"
    marker = np.stack([np.arange(16.0), np.arange(16.0) ** 1.5], axis=1)[None]
    np.save(bank, marker)
    config = TrainConfig(**TINY, epochs=1, poses=f"procedural2:1,{bank}:1")
    train(config, tmp_path / "run", verbose=0)
    saved = RunDir(tmp_path / "run").config()
    assert saved.poses == f"procedural2:1,{bank}:1"
    generator = StickmanGenerator(stream_config(saved, load_suite("stickman")), 0)
    _, keypoints, _ = generator.chunk(0)
    assert generator.pose_source()["kind"] == "mixture"
    # the marked pose, stretched to the frame, has its joints in a known order along x
    from_bank = (np.diff(keypoints[..., 0], axis=1) > 0).all(axis=1) & \
        (np.diff(keypoints[..., 1], axis=1) > 0).all(axis=1)
    assert 0.25 < from_bank.mean() < 0.75
    fails_with(invoke("train", "--poses", "procedural:0,x.npy:1", "--out", tmp_path / "r2"),
               "each source of a mixture needs a positive weight")
    fails_with(invoke("train", "--poses", tmp_path / "nope.npy", "--out", tmp_path / "r3"),
               f"pose file {tmp_path / 'nope.npy'} does not exist")
    fails_with(invoke("train", "--resume", "--out", tmp_path / "run", "--poses",
                      "procedural"), "--poses cannot be changed on --resume (the run has "
                                     f"'procedural2:1,{bank}:1', not 'procedural')")
    ok(invoke("train", "--resume", "--out", tmp_path / "run", "--arch", "resnet", "--db",
              tmp_path / "s.db"))                          # the run's own value: accepted
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()


def test_a_runs_identity_is_unchanged_by_settings_added_later():
    """Runs recorded before ``poses`` existed keep their id: the default config's hash is
    the one it had then."""
    from dataclasses import asdict

    from stickpose.leaderboard.store import config_hash

    assert config_hash(asdict(TrainConfig())) == \
        "fb206912d13d9bcbabf7f9919e949ed4b31e693671673a7716c9be1d4b7531da"
    assert config_hash(asdict(TrainConfig(poses="procedural2"))) != \
        config_hash(asdict(TrainConfig()))


def test_a_suite_without_a_board_is_said_before_training(tmp_path):
    from tests.cli_helpers import invoke

    suite = tmp_path / "mine.toml"
    suite.write_text("[suite]\nname = 'mine'\n[defaults]\nsize = 64\n"
                     "[sets.test1]\nseed = 1\ncount = 10\n[streams.train]\nseed = 2\n")
    result = invoke("train", "--suite", suite, "--arch", "unet", "--input-size", 32,
                    "--width", 4, "--epochs", 1, "--steps", 1, "--out", tmp_path / "run")
    assert f"suite {suite} has no board" in " ".join(result.output.split())


def _last_learning_rate(run):
    """The learning rate TensorBoard logged at the run's last epoch."""
    from stickpose.quiet_tf import tf

    (events,) = (run / "tensorboard" / "train").glob("events.out.tfevents.*")
    rates = [tf.make_ndarray(value.tensor)
             for record in tf.data.TFRecordDataset(str(events))
             for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value
             if value.tag == "epoch_learning_rate"]
    return float(rates[-1])


def test_train_takes_its_cells_recipe_and_minutes_alone_fill_the_time(tmp_path):
    """`train --arch A --head H` trains with the board's recipe for that cell, except what
    the command line gives; `--minutes` alone trains the whole time, the cosine schedule
    decaying over it to 0 (and no early stop); `--recipe none` keeps the plain defaults."""
    from stickpose.runs import TIME_EPOCHS
    from stickpose.leaderboard.recipe import load_recipes
    from stickpose.training import time_cosine
    from tests.cli_helpers import ok, invoke

    tiny = ("--arch", "unet", "--head", "integral", "--input-size", 32, "--steps", 2,
            "--test-count", 4, "--validation-count", 4)
    output = ok(invoke("train", *tiny, "--minutes", 0.01, "--out", tmp_path / "timed"))
    config = json.loads((tmp_path / "timed" / "config.json").read_text())
    recipe = load_recipes().settings("unet", "integral")
    assert (config["width"], config["learning_rate"], config["sigma"]) == \
        (recipe["width"], recipe["learning_rate"], recipe["sigma"])
    assert config["steps_per_epoch"] == 2 and config["input_size"] == 32
    assert config["recipe"] == (f"{recipe['recipe']} with input_size 32 given, "
                                "steps_per_epoch 2 given")
    assert (config["schedule"], config["epochs"], config["patience"]) == \
        ("cosine-time", TIME_EPOCHS, TIME_EPOCHS)
    assert "trained for --minutes 0.01: 1 epoch(s), 64 training images" in output
    assert "Epoch 1: 0.0 of 0.01 minutes trained" in output and "/100000" not in output
    assert _last_learning_rate(tmp_path / "timed") == 0.0        # the time is over
    timed = TrainConfig(**{k: config[k] for k in ("learning_rate", "minutes", "schedule")})
    assert [time_cosine(timed, s) for s in (0, 0.3, 0.6, 60)] == \
        pytest.approx([recipe["learning_rate"], recipe["learning_rate"] / 2, 0, 0], abs=1e-12)

    result = invoke("train", "--minutes", 5, "--schedule", "step", "--out", tmp_path / "s")
    assert result.exit_code == 2 and "--schedule step divides the learning rate" in \
        result.output and not (tmp_path / "s").exists()
    ok(invoke("train", *tiny, "--epochs", 1, "--recipe", "none", "--width", 4,
              "--out", tmp_path / "plain"))
    plain = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert (plain["recipe"], plain["learning_rate"], plain["schedule"], plain["epochs"]) == \
        (None, TrainConfig().learning_rate, "cosine", 1)


def test_the_shapes_of_the_reported_native_crash_train(tmp_path):
    """Issue 36's crash report: resnet and senet at width 8 with batch sizes 1, 5, 7 and 9
    died in TensorFlow's compiled train step (exit 139 or 134, likely a oneDNN kernel, on
    the reporter's CPU; not reproduced on this project's machines). Two of those shapes are
    trained here in a child process, so a native crash fails this test with its exit status
    instead of taking the test worker down."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import numpy as np
        from stickpose.quiet_tf import tf
        import keras
        from stickpose.models.build import build_model
        for arch, head, batch in (("resnet", "integral", 7), ("senet", "heatmap", 5)):
            model = build_model(arch, head, 32, width=8)
            model.compile(optimizer="adam", loss="mean_squared_error")
            x = np.random.default_rng(batch).random((batch, 32, 32, 3), "float32")
            y = {k: np.zeros((batch, *v.shape[1:]), "float32")
                 for k, v in model.output.items()}
            model.train_on_batch(x, y)
            print(arch, head, batch, "ok", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert done.stdout.count(" ok") == 2


def test_a_diverging_run_stops_with_an_error_that_says_so(tmp_path):
    from tests.cli_helpers import fails_with, invoke

    fails_with(invoke("--db", f"sqlite:///{tmp_path / 's.sqlite'}", "train", "--arch",
                      "resnet", "--head", "heatmap", "--recipe", "none", "--learning-rate",
                      1e6, "--input-size", 32, "--width", 4, "--steps", 3, "--epochs", 1,
                      "--batch-size", 4, "--validation-count", 8, "--test-count", 4,
                      "--out", tmp_path / "run"),
               "training diverged: the loss became nan at epoch 1")
    for option, value in (("--minutes", "inf"), ("--learning-rate", "1e400"),
                          ("--sigma", "-inf")):
        fails_with(invoke("train", option, value, "--out", tmp_path / "x"), option)
    assert not (tmp_path / "x").exists()
