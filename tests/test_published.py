"""The published board in ``leaderboards/``: its tables are what ``leaderboard export``
makes of its own ``results.csv`` (no hand edits, nothing stale), and its class-suite rows
are complete, consistent measurements beside the class's reported ones."""
import math
from pathlib import Path

import pandas as pd
import pytest

from stickpose.leaderboard import board
from stickpose.leaderboard.reference import CLASS_TABLE
from stickpose.leaderboard.store import open_store

PUBLISHED = Path(__file__).resolve().parents[1] / "leaderboards"
TESTS = ("test1", "test2", "test3", "test4")


def _body(path: Path) -> str:
    """A published file without its stamp (command, version, date)."""
    return "\n".join(line for line in path.read_text().splitlines()
                     if not line.startswith(("#", "<!--", "Produced by")))


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    folder = tmp_path_factory.mktemp("published")
    engine = open_store(f"sqlite:///{folder / 'store.sqlite'}")
    board.import_results(engine, PUBLISHED / "results.csv")
    board.export(engine, folder / "again", "stickpose leaderboard export leaderboards/")
    return board.load(engine), folder / "again"


@pytest.mark.parametrize("name", ["stickman.csv", "class.csv", "stickman.md", "class.md",
                                  "decoders.md"])
def test_published_tables_are_what_export_makes_of_results_csv(frame, name):
    _, again = frame
    if not (PUBLISHED / name).exists():
        pytest.skip(f"leaderboards/{name} is not published")
    assert _body(again / name) == _body(PUBLISHED / name), (
        f"leaderboards/{name} differs from what `stickpose leaderboard export` makes of "
        "leaderboards/results.csv: export again instead of editing")


def test_the_class_suite_rows_are_complete_and_consistent(frame):
    rows = board.for_suite(board.canonical(frame[0]), "class")
    reported = rows[rows["reported"] == 1]
    assert set(reported.groupby(["arch", "head"]).groups) == set(CLASS_TABLE)
    ours = rows[(rows["reported"] != 1) & rows["decoder"].isin(board.HEAD_OUTPUTS)]
    if ours.empty:
        pytest.skip("no stickpose row on the class suite is published yet")
    assert set(ours["data"]) == {"class"}                     # trained on the class's poses
    assert ours["train_images"].nunique() == 1, "one published budget"
    for (arch, head, run), cells in ours.groupby(["arch", "head", "run_id"]):
        values = cells.set_index(["set", "metric"])["value"]
        for name in TESTS:
            score, flip = values[(name, "score")], values[(name, "flip_score")]
            assert math.isfinite(score) and 0 < flip <= score + 1e-9, (arch, head, name)
            assert 0 <= values[(name, "swap")] <= 1 and 0 <= values[(name, "pck")] <= 1
            assert cells[cells["set"] == name]["images"].max() == 879, (arch, head, name)


def test_a_user_with_an_empty_store_sees_the_published_board(tmp_path):
    """Installed, before recording anything: `stickpose leaderboard` shows the board
    stickpose ships (the same file as leaderboards/results.csv), says so, and says how the
    user's own runs join it."""
    from stickpose.shipped import published_results
    from tests.cli_helpers import invoke, ok

    assert published_results() == PUBLISHED / "results.csv"
    db = f"sqlite:///{tmp_path / 'mine.sqlite'}"
    open_store(db)
    output = ok(invoke("leaderboard", "--db", db))
    assert "holds no results yet: this is stickpose's published board" in output
    assert f"leaderboard import {PUBLISHED / 'results.csv'}" in output
    shown = board.suite_board(board.load_published(PUBLISHED / "results.csv"), "stickman")
    assert board.render(shown, "score") in output
    ok(invoke("leaderboard", "import", PUBLISHED / "results.csv", "--db", db))
    assert "holds no results yet" not in ok(invoke("leaderboard", "--db", db))


def test_the_wheel_ships_the_published_results(tmp_path):
    """A user who installs the wheel (not a clone) gets the published results.csv and the
    pretrained models."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source, root = tmp_path / "source", PUBLISHED.parent     # built in a copy: no build/ here
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(
        ".*", "__pycache__", "*.egg-info", "build", "dist", "runs", "data", "tests", "docs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(source)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("stickpose-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = [n for n in archive.namelist()
                   if n.endswith("data/share/stickpose/leaderboards/results.csv")]
        assert len(shipped) == 1, archive.namelist()
        assert archive.read(shipped[0]) == (PUBLISHED / "results.csv").read_bytes()
        from stickpose.pretrained import SHIPPED, manifest, names    # and the pretrained models
        for name in names():
            for file in [*manifest(name)["files"], "pretrained.json"]:
                assert archive.read(f"stickpose/pretrained/{name}/{file}") == \
                    (SHIPPED / name / file).read_bytes()


def test_the_reference_rows_are_measured_on_every_set(frame):
    """Stand-ins on both suites and the class's floors, on all images of each test set, under
    both protocols on the class's sets; the class's own numbers under its code as written."""
    from stickpose.references import FLOORS, STAND_INS

    data = board.canonical(frame[0])
    for suite, names, metrics in (("stickman", STAND_INS, ("score",)),
                                  ("class", STAND_INS + FLOORS, ("score", "score_written"))):
        rows = board.for_suite(data, suite)
        rows = rows[rows["arch"] == "reference"]
        for metric in metrics:
            table = board.measured_references(rows, metric).set_index("head")
            assert set(table.index) == set(names), (suite, metric)
            assert table[list(TESTS)].notna().all().all(), (suite, metric)
        assert (rows["images"] == (879 if suite == "class" else 1000)).all()
    perfect = board.measured_references(board.for_suite(data, "class"), "score")
    assert (perfect.set_index("head").loc["perfect keypoints", list(TESTS)] == 0).all()
    reported = board.for_suite(data, "class")
    assert set(reported.loc[reported["reported"] == 1, "metric"]) == {"score_written"}


def test_every_published_table_lists_every_cell(frame):
    """All 18 architecture x head rows, measured or not, in every published table."""
    from stickpose.models.registry import ARCHS, HEADS

    cells = {(a, h) for a in ARCHS.names() for h in HEADS.names()}
    for suite in ("stickman", "class"):
        for metric in board.EXPORT_METRICS[suite]:
            table = board.suite_board(frame[0], suite, metric)
            assert cells <= set(zip(table["arch"], table["head"])), (suite, metric)


def test_the_published_scaling_study_is_what_its_command_makes_of_its_results(tmp_path):
    """leaderboards/scaling/: its tables are what `leaderboard scaling` makes of its own
    scaling-results.csv (which holds the runs it shows), and a curve shows two budgets or
    more."""
    from stickpose.leaderboard import scaling

    folder = PUBLISHED / "scaling"
    if not (folder / scaling.RESULTS).exists():
        pytest.skip("no scaling study is published yet")
    engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    board.import_results(engine, folder / scaling.RESULTS)
    written = scaling.export(engine, tmp_path / "again",
                             "stickpose leaderboard scaling leaderboards/scaling")
    for path in written:
        assert (folder / path.name).exists(), path.name
        if path.suffix == ".md" or path.name == "scaling.csv":
            assert _body(path) == _body(folder / path.name), (
                f"leaderboards/scaling/{path.name} differs from what `stickpose leaderboard "
                f"scaling` makes of its {scaling.RESULTS}: run it again instead of editing")
    table = scaling.scaling(board.load(engine))
    shown = set(pd.read_csv(folder / scaling.RESULTS, comment="#")["run_id"])
    assert shown == set(pd.read_csv(tmp_path / "again" / scaling.RESULTS,
                                    comment="#")["run_id"])
    budgets = table.groupby(["suite", "arch", "head", "curve"])["budget"].nunique()
    assert (budgets >= 2).any()


def test_every_figure_export_draws_is_published(frame):
    """The export's pictures (the suites' bars, the whole board) are all in leaderboards/."""
    _, again = frame
    drawn = sorted(p.name for p in again.glob("*.png"))
    assert "board.png" in drawn
    assert drawn == sorted(p.name for p in PUBLISHED.glob("*.png"))
