"""A fair leaderboard: budgets in training images, recipes as data, time to accuracy, seeds
with spread, and the class's published numbers beside ours (never averaged in)."""
import pandas as pd
import pytest

from stickpose.errors import StickposeError
from stickpose.leaderboard import reference
from stickpose.leaderboard.board import (comparison, for_suite, load, render, suite_board,
                                         with_reference)
from stickpose.leaderboard.recipe import (RecipeError, budget_epochs, load_recipes,
                                          parse_images)
from stickpose.leaderboard.store import open_store, record
from stickpose.leaderboard.sweep import run_sweep, sweep_configs
from stickpose.runs import RunDir, validation_curve
from tests.cli_helpers import fails_with, invoke, ok
from tests.leaderboard.test_store import config

TINY = dict(input_size=32, width=4, batch_size=8, steps_per_epoch=2, validation_count=16,
            test_count=8)


def test_budgets_are_training_images():
    assert [parse_images(t) for t in ("200k", "1.5M", "96000", "64", " 2K ")] == [
        200_000, 1_500_000, 96_000, 64, 2_000]
    for bad in ("0", "1.5", "-3k", "5m", "2G", ""):
        with pytest.raises(StickposeError, match="is not a number of images like 200k"):
            parse_images(bad)
    assert budget_epochs(200_000, 32, 125) == 50          # exact
    assert budget_epochs(200_001, 32, 125) == 51          # rounded up to whole epochs
    configs = sweep_configs(["resnet", "unet"], ["heatmap", "scalar"], [0, 1], 200_000,
                            load_recipes())
    assert [(c.seed, c.arch, c.head) for c in configs[:4]] == [
        (0, "resnet", "heatmap"), (0, "resnet", "scalar"), (0, "unet", "heatmap"),
        (0, "unet", "scalar")]                            # seed by seed
    for c in configs:                                     # the budget alone decides
        assert c.epochs * c.steps_per_epoch * c.batch_size == 200_000
        assert c.schedule == "cosine" and c.minutes is None and c.patience >= c.epochs
        assert c.recipe == f"recipes v1 {c.arch}/{c.head}"


def test_recipes_are_data_and_unknown_settings_are_refused(tmp_path):
    built_in = load_recipes()
    assert built_in.settings("resnet", "heatmap")["width"] == 24
    assert built_in.settings("unet", "scalar")["width"] == 6
    mine = tmp_path / "mine.toml"
    mine.write_text('[recipe]\nname = "mine"\nversion = 3\n[defaults]\nlearning_rate = 0.001\n'
                    'width = 8\n[resnet]\nwidth = 12\n[resnet.scalar]\nlearning_rate = 0.004\n')
    recipes = load_recipes(mine)
    assert recipes.settings("resnet", "scalar") == {
        "learning_rate": 0.004, "width": 12, "recipe": "mine v3 resnet/scalar"}
    assert recipes.settings("senet", "heatmap")["width"] == 8
    for text, message in [
            ("[defaults]\ndropout = 0.1\n", "[defaults] has unknown setting(s) dropout; a "
                                            "recipe sets input_size, width"),
            ("[resnet]\nseed = 3\n", "[resnet] has unknown setting(s) seed"),
            ("[resnet.heatmap]\nepochs = 3\n", "[resnet.heatmap] has unknown setting(s) epochs"),
            ("[vgg]\nwidth = 3\n", "[vgg] is not an architecture"),
            ("[resnet.dense]\nwidth = 3\n", "[resnet.dense] is not a head"),
            ("[resnet.heatmap]\nwidth = -1\n", "[resnet.heatmap]: width -1 must be a positive "
                                               "integer"),
            ("[resnet.heatmap]\nheatmap_stride = 3\n", "[resnet.heatmap]: heatmap_stride 3 "
                                                      "must be one of 1, 2, 4, 8, 16"),
            ("[recipe]\nauthor = 'me'\n", "[recipe] has unknown key(s) author"),
            ("[defaults\n", "is not valid TOML")]:
        mine.write_text(text)
        with pytest.raises(RecipeError, match=None) as error:
            load_recipes(mine)
        assert message in str(error.value) and str(mine) in str(error.value)
    with pytest.raises(RecipeError, match="unknown recipe file 'fast'"):
        load_recipes("fast")
    mine.write_text("[defaults]\ndropout = 0.1\n")
    fails_with(invoke("leaderboard", "run", "--recipes", mine, "--out", tmp_path / "sweep",
                      "--db", tmp_path / "s.sqlite"), "has unknown setting(s) dropout")
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "s.sqlite").exists()
    mine.write_text('[recipe]\nname = "mine"\n[unet]\ninput_size = 40\n')   # unet: 16s
    for command in (["leaderboard", "run", "--recipes", mine, "--archs", "unet",
                     "--out", tmp_path / "sweep"], ["train", "--recipe", mine, "--arch", "unet",
                                                    "--out", tmp_path / "run"]):
        fails_with(invoke(*command, "--db", tmp_path / "s.sqlite"),
                   "input_size 40 of recipe mine v1 unet/")
        fails_with(invoke(*command, "--input-size", 50, "--db", tmp_path / "s.sqlite"),
                   "Invalid value for '--input-size': 50 does not work with unet")
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "run").exists()


def test_train_takes_a_budget_of_images(tmp_path):
    tiny = ["--arch", "resnet", "--head", "scalar", "--input-size", 32, "--width", 4,
            "--batch-size", 8, "--steps", 2, "--validation-count", 16, "--test-count", 8,
            "--db", tmp_path / "s.sqlite"]
    ok(invoke("train", *tiny, "--budget", 40, "--out", tmp_path / "run"))
    assert RunDir(tmp_path / "run").config().epochs == 3        # 40 images: 3 epochs of 16
    assert RunDir(tmp_path / "run").config().patience == 3      # a budget: no early stop
    output = ok(invoke("train", *tiny, "--budget", 40, "--patience", 2, "--minutes", 0.0001,
                       "--out", tmp_path / "early"))
    assert RunDir(tmp_path / "early").config().patience == 2    # unless asked for
    assert "stopped early (--minutes 0.0001) after epoch 1 of 3: 16 training images of the " \
        "48 planned" in output
    fails_with(invoke("train", *tiny, "--budget", 80, "--out", tmp_path / "run", "--resume"),
               "--budget cannot be changed on --resume (the run trains on 48 images, not 80)")
    fails_with(invoke("train", *tiny, "--budget", "5m", "--out", tmp_path / "other"),
               "'5m' is not a number of images like 200k, 1.5M or 96000 (the budget is a "
               "number of training images now; a time limit is --minutes 5)")
    fails_with(invoke("train", *tiny, "--budget", "1k", "--epochs", 2, "--out",
                      tmp_path / "other"), "give --budget (training images) or --epochs")
    assert not (tmp_path / "other").exists()


def test_the_validation_curve_is_read_from_the_history():
    rows = [{"epoch": k, "val_score": score, "images": 100 * (k + 1), "cpu_seconds": 10.0 * k,
             "seconds": 5.0 * k} for k, score in enumerate([3.0, 1.3, 1.19, 0.9])]
    assert validation_curve(rows)[2] == {"images": 300, "cpu_seconds": 20.0, "score": 1.19}
    assert len(validation_curve(rows)) == 4
    assert validation_curve([{"epoch": 0, "val_loss": 1.0}]) == []     # before val_score


def test_the_same_images_are_seen_whatever_the_batch_timing(tmp_path, monkeypatch):
    """A budget is images, not time: an entry whose batches are slowed down (a busy
    machine) trains on the same images, epoch by epoch, as one that runs at full speed, and
    its history says how many images and CPU seconds each epoch ended at."""
    import time

    from stickpose import training as train

    engine = open_store(tmp_path / "s.sqlite")
    configs = sweep_configs(["resnet"], ["scalar"], [0], 48, load_recipes(), **TINY)
    run_sweep(configs, tmp_path / "fast", engine)
    slow, delays = train.RunKeeper.on_train_batch_end, []

    def slowed(self, batch, logs=None):
        delays.append(0.3)
        time.sleep(0.3)
        slow(self, batch, logs)
    monkeypatch.setattr(train.RunKeeper, "on_train_batch_end", slowed)
    run_sweep(configs, tmp_path / "slow", open_store(tmp_path / "s2.sqlite"))  # its own queue
    assert len(delays) == 6                               # every batch of 3 epochs x 2 waited
    histories = [pd.DataFrame(RunDir(tmp_path / kind / configs[0].name).history())
                 for kind in ("fast", "slow")]
    for history in histories:
        assert history["images"].tolist() == [16, 32, 48]
        assert history["cpu_seconds"].is_monotonic_increasing
        assert {"val_score", "val_loss", "seconds"} <= set(history.columns)
    pd.testing.assert_series_equal(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
    pd.testing.assert_series_equal(histories[0]["val_score"], histories[1]["val_score"],
                                   rtol=1e-4)
    runs = load(engine).drop_duplicates("run_id")
    assert runs["train_images"].tolist() == [48] and runs["hardware"].iloc[0]


def test_time_to_the_milestone_and_size_in_the_table(tmp_path):
    """The milestone is read off each run's recorded validation curve at a quarter of the
    mean training pose's score (its reference row: 4.0 here, so the mark is 1.0)."""
    engine = open_store(tmp_path / "s.sqlite")
    sets = {"test1": {"score": 1.0, "images": 1000}}
    curves = [[(2000, 5.0, 2.5), (4000, 12.0, 0.99), (6000, 20.0, 0.5)],     # at 4000
              [(2000, 5.0, 2.5), (4000, 12.0, 1.01)],                        # never
              [(4000, 11.0, 1.5), (8000, 30.0, 1.0)]]                        # at 8000 (<=)
    for seed, curve in enumerate(curves):
        record(engine, config(seed=seed), {
            "train_images": 200_000, "parameters": 236_184, "flops": 44.3e6,
            "validation_curve": [{"images": i, "cpu_seconds": c, "score": s}
                                 for i, c, s in curve]}, sets)
    table = comparison(load(engine))
    assert table.iloc[0]["tta_curves"] == 3 and pd.isna(table.iloc[0]["tta_images"])  # no mark
    assert "not reached" in render(table, "score", "md")
    record(engine, {"arch": "reference", "head": "mean training pose", "suite": "stickman",
                    "input_size": None, "width": None, "seed": None}, None,
           {"test1": {"score": 4.0, "images": 1000}}, "reference")
    table = comparison(load(engine))
    row = table.iloc[0]
    assert len(table) == 1                         # the reference row is not a setup of ours
    assert (row["tta_images"], row["tta_cpu_seconds"], row["tta_runs"], row["runs"]) == (
        6000, 21.0, 2, 3)
    text = render(table, "score", "md")
    assert "6k img, 21 CPU s (2/3)" in text and "236k" in text and "200k" in text
    assert "| 44 |" in " ".join(text.split()).replace("  ", " ")
    record(engine, config(seed=5), {"train_images": 200_000}, sets)   # no curve, on its own
    old = comparison(load(engine).query("seed == 5"))
    assert "no curve recorded" in render(old, "score", "md")


def test_reference_rows_stand_beside_ours_and_are_never_averaged_in(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    engine = open_store(url)
    for _ in range(2):                                    # again: replaced, not duplicated
        assert reference.record_class_table(engine) == 12
    frame = load(engine)
    assert frame["run_id"].nunique() == 12 and len(frame) == 48 and frame["reported"].all()
    assert frame["value"].notna().sum() == 36             # three cells published empty
    assert comparison(for_suite(frame, "class")).empty    # none of it is "ours"
    for seed, value in enumerate([1.0, 1.2]):             # our senet scalar on the class suite
        record(engine, config("senet", "scalar", seed, suite="class"), None,
               {f"class/test{k}": {"score": 2 * value, "score_written": value, "images": 879}
                for k in range(1, 5)}, "coordinates")
    frame = load(engine)
    intended = suite_board(frame, "class")               # the class's numbers are not here
    assert "test1 reported" not in intended
    assert set(intended.loc[intended["runs"].notna(), "arch"]) == {"senet"}
    board = suite_board(frame, "class", "score_written").set_index(["arch", "head"])
    senet = board.loc[("senet", "scalar")]
    assert senet["test1"] == pytest.approx(1.1) and senet["runs"] == 2      # ours alone
    assert senet["test1 reported"] == 1.27 and senet["test2 reported"] == 1.20
    assert board.loc[("resnet", "heatmap"), "reported"]                       # published
    assert pd.isna(board.loc[("resnet", "heatmap"), "test1 reported"])        # ... empty
    assert suite_board(frame, "stickman").empty           # the class's rows: class suite only
    text = render(suite_board(frame, "class", "score_written"), "score_written", "md")
    assert "n/r" in text and "1.27" in text and "1.100 ± 0.141" in text
    assert with_reference(comparison(for_suite(frame, "stickman")), pd.DataFrame()).empty
    # the round trip: export, import elsewhere, the same board
    ok(invoke("leaderboard", "export", tmp_path / "out", "--db", url))
    assert "n/r" in (tmp_path / "out" / "class.md").read_text()
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    ok(invoke("leaderboard", "import", tmp_path / "out" / "results.csv", "--db", other))
    for metric in ("score", "score_written"):
        pd.testing.assert_frame_equal(suite_board(load(open_store(other)), "class", metric),
                                      suite_board(frame, "class", metric), check_dtype=False)


def test_reference_from_the_command_line(tmp_path):
    db = tmp_path / "s.sqlite"
    assert "12 cells" in ok(invoke("leaderboard", "reference", "--db", db))
    output = ok(invoke("leaderboard", "--suite", "class", "--metric", "score_written",
                       "--db", db))
    assert "1.27" in output and "n/r" in output and "reported, not re-run" in output
    assert "1.27" not in ok(invoke("leaderboard", "--suite", "class", "--db", db))
    assert "lower is better" in output
