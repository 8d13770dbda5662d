import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from stickpose.cli import main
from tests.cli_helpers import as_in_a_terminal, invoke
from stickpose.data.storage import load_dataset


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return invoke


def _no_traceback(result):
    assert "Traceback" not in result.output


def test_help_does_not_import_tensorflow():
    code = ("import sys; from stickpose.cli import main; "
            "assert 'tensorflow' not in sys.modules and 'cv2' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-m", "stickpose", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "generate" in out and "bench" in out


def test_a_command_imports_only_its_own_module():
    code = ("import sys\n"
            "from stickpose.cli import main\n"
            "try:\n"
            "    main(['lsp', 'score', '--help'], prog_name='stickpose')\n"
            "except SystemExit as exit:\n"
            "    assert exit.code == 0, exit.code\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('stickpose.cli.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "Score predictions of any method" in out
    assert out.splitlines()[-1].split() == ["stickpose.cli.common", "stickpose.cli.lsp"]


def test_generate_noise_dataset_with_preview(run, tmp_path):
    result = run("generate", "--noise", "--out", "train", "--count", 40, "--size", 48,
                 "--seed", 3, "--workers", 1, "--preview", "sheet.png")
    assert result.exit_code == 0, result.output
    dataset = load_dataset(tmp_path / "train")
    assert len(dataset) == 40
    assert dataset.meta["config"]["circles"] == 0.5 and dataset.meta["config"]["squares"] == 0.3
    assert dataset.meta["config"]["backgrounds"] == 0.9 and dataset.meta["seed"] == 3
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet is not None and sheet.shape[1] > sheet.shape[0]


def test_generate_options_reach_the_config(run, tmp_path):
    result = run("generate", "--noise", "--circles", 0.1, "--occluders", 0.5, "--placement",
                 "fit", "--margin", 0.1, "--out", "o", "--count", 5, "--size", 40,
                 "--workers", 2)
    assert result.exit_code == 0, result.output
    config = load_dataset(tmp_path / "o").meta["config"]
    assert config["circles"] == 0.1 and config["squares"] == 0.3
    assert config["occluders"] == 0.5 and config["placement"] == "fit" and config["margin"] == 0.1


def test_generate_suite_writes_every_set(run, tmp_path):
    result = run("generate", "--suite", "stickman", "--size", 32, "--count", 8,
                 "--workers", 1, "--preview", "suite.png")
    assert result.exit_code == 0, result.output
    for name in ("test1", "test2", "test3", "test4", "validation"):
        assert load_dataset(tmp_path / "data" / "stickman" / name).meta["count"] == 8
    assert (tmp_path / "suite.png").is_file()


def test_preview_of_a_suite_with_mixed_sizes(run, tmp_path):
    (tmp_path / "mixed.toml").write_text(
        "[defaults]\ncount = 9\n[sets.small]\nseed = 1\nsize = 32\n"
        "[sets.large]\nseed = 2\nsize = 64\n")
    result = run("generate", "--suite", "mixed.toml", "--out", "m", "--preview", "m.png",
                 "--workers", 2)
    assert result.exit_code == 0, result.output
    sheet = cv2.imread(str(tmp_path / "m.png"))
    assert sheet.shape[0] == 2 * (160 + 4) + 4                 # one row per set


def test_background_dir_and_pose_bank(run, tmp_path):
    (tmp_path / "bg").mkdir()
    cv2.imwrite(str(tmp_path / "bg" / "wall.png"), np.full((50, 50, 3), 77, np.uint8))
    rows = np.random.default_rng(0).uniform(0, 50, (3, 32))
    rows[0, :2] = -1
    np.savetxt(tmp_path / "poses.csv", rows, delimiter=",")
    result = run("generate", "--backgrounds", 1, "--background-dir", "bg", "--poses",
                 "poses.csv", "--out", "b", "--count", 4, "--size", 32, "--workers", 1)
    assert result.exit_code == 0, result.output
    dataset = load_dataset(tmp_path / "b")
    assert dataset.meta["poses"]["skipped_incomplete"] == 1
    assert "1 incomplete row(s) skipped; 2 used" in result.output
    assert np.median(dataset.image(0)) == 77


@pytest.mark.parametrize("args, message", [
    (["--circles", "1.5"], "'--circles': 1.5 is not in the range 0.0<=x<=1.0"),
    (["--squares", "-0.2"], "-0.2 is not in the range"),
    (["--size", "16"], "'--size': 16 is not in the range 32<=x<=4096"),
    (["--backgrounds", "1", "--background-dir", "empty"], "holds no readable image"),
    (["--backgrounds", "1", "--background-dir", "broken"], "holds no readable image"),
    (["--backgrounds", "1", "--background-dir", "missing"], "does not exist"),
    (["--backgrounds", "1", "--background-dir", "bad.npy"], "bad.npy is a file, not a folder"),
    (["--poses", "bad.npy"], "has shape (4, 14, 2); expected (N, 16, 2) or (N, 32)"),
    (["--suite", "nope"], "unknown suite 'nope'; known suites: class, class-2022, class-poses, stickman"),
    (["--suite", "stickman", "--circles", "0.2"], "cannot be combined with --suite"),
    (["--placement", "tile"], "'tile' is not one of 'stretch', 'fit'"),
    (["--preview", "empty"], "--preview empty is a folder; expected a .png file path"),
    (["--background-dir", "empty"], "backgrounds probability is 0"),
    (["--size", "100000"], "'--size': 100000 is not in the range 32<=x<=4096"),
])
def test_bad_input_gives_one_clear_line_and_writes_nothing(run, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.jpg").write_bytes(b"garbage")
    np.save(tmp_path / "bad.npy", np.zeros((4, 14, 2)))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run("generate", "--out", "out", "--count", 3, "--workers", 1, *args)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    _no_traceback(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_existing_dataset_is_refused_unless_overwrite(run, tmp_path):
    assert run("generate", "--out", "d", "--count", 2, "--size", 32).exit_code == 0
    before = (tmp_path / "d" / "meta.json").read_text()
    result = run("generate", "--out", "d", "--count", 3, "--size", 32)
    assert result.exit_code == 1 and "already holds a dataset; pass --overwrite" in result.output
    assert (tmp_path / "d" / "meta.json").read_text() == before
    result = run("generate", "--out", "d", "--count", 3, "--size", 32, "--overwrite")
    assert result.exit_code == 0 and json.loads((tmp_path / "d" / "meta.json").read_text())[
        "count"] == 3
    (tmp_path / "d" / "notes.txt").write_text("mine")
    (tmp_path / "d" / "images" / "circled.png").write_bytes(b"mine too")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "d").rglob("*"))
    result = run("generate", "--out", "d", "--count", 4, "--size", 32, "--overwrite")
    assert result.exit_code == 1
    assert "holds files stickpose did not write there (images/circled.png, notes.txt)" in \
        " ".join(result.output.split())
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "d").rglob("*")) == before
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine"


def test_bench_generate_prints_throughput(run):
    result = run("bench", "generate", "--sets", "test1", "--sizes", "64", "--images", 64,
                 "--workers", 2)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "1 process img/s" in lines[0] and "speed-up" in lines[0]
    assert lines[1].split()[0] == "test1" and float(lines[1].split()[2]) > 0


def test_bench_rejects_unknown_set(run):
    result = run("bench", "generate", "--sets", "test9")
    assert result.exit_code == 2 and "unknown set 'test9'" in result.output


def test_worker_count_does_not_change_the_bytes(run, tmp_path):
    for workers in (1, 2):
        result = run("generate", "--noise", "--out", f"w{workers}", "--count", 130, "--size",
                     40, "--seed", 5, "--workers", workers)
        assert result.exit_code == 0, result.output
    files = [{p.relative_to(tmp_path / name): p.read_bytes()
              for p in (tmp_path / name).rglob("*") if p.is_file()} for name in ("w1", "w2")]
    assert files[0] == files[1] and len(files[0]) == 134


@pytest.mark.parametrize("args, message", [
    (["--arch", "vgg"], "unknown architecture 'vgg'; known: hourglass, inception, mobilenetv2"),
    (["--head", "dense"], "unknown head 'dense'; known: heatmap, integral, scalar, or MODULE:NAME"),
    (["--arch", "hourglass", "--input-size", "100"],
     "'--input-size': 100 does not work with hourglass: use a multiple of 32"),
    (["--arch", "resnet", "--input-size", "40"],
     "'--input-size': 40 does not work with resnet: use a multiple of 16"),
    (["--learning-rate", "0"], "'--learning-rate': 0.0 is not in the range x>0.0"),
    (["--minutes", "-1"], "'--minutes': -1.0 is not in the range x>0.0"),
    (["--resume", "--overwrite", "--out", "x"], "give one"),
    (["--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=4294967295"),
    (["--resume", "--out", "x", "--steps", "3"], "cannot resume x: no config.json there"),
    (["--epochs", "0"], "0 is not in the range x>=1"),
    (["--resume"], "--resume needs --out RUN"),
    (["--resume", "--out", "nowhere"], "cannot resume nowhere: no config.json there"),
])
def test_train_bad_input(run, tmp_path, args, message):
    result = run("train", *args)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    _no_traceback(result)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_generate_leaves_nothing_half_written(tmp_path, signal_number):
    out = tmp_path / "set"
    process = subprocess.Popen([sys.executable, "-m", "stickpose", "generate", "--out", str(out),
                                "--count", "20000", "--size", "64", "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=as_in_a_terminal)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".set.partial-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)                                       # images are being written
    process.send_signal(signal_number)
    output = process.communicate(timeout=60)[0]
    assert process.returncode != 0 and "Traceback" not in output, output
    assert list(tmp_path.iterdir()) == []                 # no partial folder, no dataset


def test_help_states_the_ranges_that_are_checked():
    from stickpose.cli.common import IMAGE_SIZE
    from stickpose.data.stickman import MAX_SIZE, MIN_SIZE

    assert (IMAGE_SIZE.min, IMAGE_SIZE.max) == (MIN_SIZE, MAX_SIZE)
    text = " ".join(invoke("generate", "--help").output.split())
    assert "32<=x<=4096" in text and "0.0<=x<0.45" in text
    text = " ".join(invoke("train", "--help").output.split())
    assert "x>=32" in text and "32 for the hourglass" in text and "[no limit]" in text
    assert "Base channels" in " ".join(invoke("models", "--help").output.split())


def test_generate_says_what_an_interrupted_run_left_and_removes_it(run, tmp_path):
    stale = tmp_path / ".set.partial-999999999"           # no such process
    (stale / "images").mkdir(parents=True)
    (stale / "images" / "000000.png").write_bytes(b"half")
    result = run("generate", "--out", "set", "--count", 2, "--size", 32)
    assert result.exit_code == 0, result.output
    assert "removed .set.partial-999999999, left by an interrupted run" in result.output
    assert not stale.exists() and (tmp_path / "set" / "meta.json").is_file()


def test_a_class_style_without_a_suite_fills_the_frame(run, tmp_path):
    """--style class / class-2022 on their own need no --margin: the class's styles fill the
    frame; a margin given with them is refused, naming it."""
    for style in ("class", "class-2022"):
        result = run("generate", "--out", f"out-{style}", "--count", 2, "--size", 32,
                     "--workers", 1, "--style", style)
        assert result.exit_code == 0, result.output
        labels = np.load(tmp_path / f"out-{style}" / "keypoints.npy")
        assert labels[..., 0].min(axis=1).max() == 0          # stretched from the border
    result = run("generate", "--out", "out-margin", "--count", 2, "--size", 32,
                 "--workers", 1, "--style", "class", "--margin", 0.1)
    assert result.exit_code != 0 and "margin 0.1" in result.output
    assert not (tmp_path / "out-margin").exists()
