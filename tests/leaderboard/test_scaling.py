"""`stickpose leaderboard scaling`: the runs of one architecture x head in several setups
(budgets, input sizes) as precision against training CPU hours."""
import pandas as pd
import pytest

from stickpose.leaderboard import scaling
from stickpose.leaderboard.board import load
from stickpose.leaderboard.store import open_store, record
from tests.cli_helpers import fails_with, invoke, ok
from tests.leaderboard.test_store import config

TESTS = ("test1", "test2", "test3", "test4")


def _record(engine, head, epochs, seed, score, cpu_seconds, input_size=64, sets=TESTS):
    output = "quarter" if head == "heatmap" else "coordinates"
    measured = {name: {"score": score + k / 10, "flip_score": score / 2, "pck": 1 - score / 10,
                       "images": 100} for k, name in enumerate(sets)}
    record(engine, config("resnet", head, seed, epochs=epochs, patience=epochs,
                          input_size=input_size),
           {"epochs": epochs, "train_images": epochs * 1000, "cpu_seconds": cpu_seconds},
           measured, output)


@pytest.fixture
def engine(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    _record(engine, "heatmap", 10, 0, 2.0, 3600)
    _record(engine, "heatmap", 10, 1, 1.8, 5400)     # a second seed, on a busier machine
    _record(engine, "heatmap", 40, 0, 1.0, 14400)
    _record(engine, "heatmap", 10, 0, 1.5, 7200, input_size=96)     # a larger input
    _record(engine, "scalar", 10, 0, 3.0, 1800)       # one setup only: no curve to show
    return engine


def test_a_row_per_setup_and_metric_with_means_over_seeds(engine):
    table = scaling.scaling(load(engine))
    assert set(table["head"]) == {"heatmap"}                  # the scalar head has one setup
    score = table[table["metric"] == "score"]
    assert score[["input_size", "budget", "runs"]].values.tolist() == [
        [64, 10000, 2], [64, 40000, 1], [96, 10000, 1]]
    first = score.iloc[0]
    assert first["cpu_hours_measured"] == pytest.approx(1.25)  # (1 h + 1.5 h) / 2
    # the curve's cost: the least CPU time per image any of its runs took (0.36 s)
    assert score["cpu_hours"].tolist() == pytest.approx([1.0, 4.0, 2.0])
    assert first["test1"] == pytest.approx(1.9) and first["test4"] == pytest.approx(2.2)
    assert first["mean"] == pytest.approx(1.9 + 0.15)
    assert len(set(score["curve"])) == 2                       # 64 px and 96 px curves
    assert list(dict.fromkeys(table["metric"])) == list(scaling.SCALING_METRICS)
    pck = table[table["metric"] == "pck"].iloc[1]
    assert pck["test1"] == pytest.approx(0.9)


def test_a_setup_missing_a_set_has_no_mean(engine):
    _record(engine, "scalar", 40, 0, 2.0, 3600, sets=TESTS[:2])
    rows = scaling.scaling(load(engine))
    rows = rows[(rows["head"] == "scalar") & (rows["metric"] == "score")]
    assert len(rows) == 2 and pd.isna(rows.iloc[1]["test3"]) and pd.isna(rows.iloc[1]["mean"])


def test_export_writes_tables_figure_and_an_importable_results_csv(engine, tmp_path):
    url = str(engine.url)
    out = tmp_path / "scaling"
    output = ok(invoke("leaderboard", "scaling", out, "--db", url))
    for name in scaling.NAMES:
        assert f"-> {out / name}" in output and (out / name).stat().st_size > 0
    assert (out / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "scaling.md").read_text()
    assert "Produced by `stickpose leaderboard scaling" in text
    assert text.count("| stickman | resnet | heatmap |") == 9           # 3 setups x 3 metrics
    assert "64,16,10000,2," in (out / "scaling.csv").read_text()     # whole numbers
    shown = pd.read_csv(out / "scaling.csv", comment="#")
    assert len(shown) == 9 and set(shown["budget"]) == {10000, 40000}
    runs = set(pd.read_csv(out / "scaling-results.csv", comment="#")["run_id"])
    assert len(runs) == 4 and not any(r.startswith("resnet-scalar") for r in runs)
    # its results.csv is the same study again, in another store
    again = f"sqlite:///{tmp_path / 'again.sqlite'}"
    ok(invoke("leaderboard", "import", out / "scaling-results.csv", "--db", again))
    ok(invoke("leaderboard", "scaling", tmp_path / "again", "--db", again))
    body = [line for line in text.splitlines() if "Produced by" not in line]
    assert [line for line in (tmp_path / "again" / "scaling.md").read_text().splitlines()
            if "Produced by" not in line] == body
    ok(invoke("leaderboard", "scaling", out, "--db", url))      # its own files: replaced


def test_refuses_to_replace_a_file_it_did_not_write(engine, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "scaling.md").write_text("my notes\n")
    fails_with(invoke("leaderboard", "scaling", out, "--db", str(engine.url)),
               f"{out / 'scaling.md'} is not a file `stickpose leaderboard scaling` wrote")
    assert sorted(p.name for p in out.iterdir()) == ["scaling.md"]
    assert (out / "scaling.md").read_text() == "my notes\n"
    (tmp_path / "file").write_text("x")                    # a file where a folder would be
    fails_with(invoke("leaderboard", "scaling", tmp_path / "file" / "out", "--db",
                      str(engine.url)), str(tmp_path / "file"))
    assert (tmp_path / "file").read_text() == "x"


def test_nothing_to_show_is_said(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'one.sqlite'}")
    _record(engine, "heatmap", 10, 0, 2.0, 3600)
    _record(engine, "heatmap", 10, 1, 2.2, 3600)                # seeds of one setup
    fails_with(invoke("leaderboard", "scaling", tmp_path / "out", "--db", str(engine.url)),
               "no architecture x head has been measured in more than one setup")
    assert not (tmp_path / "out").exists()


def test_budgets_of_a_real_sweep_make_a_curve(tmp_path):
    """Two budgets of one entry trained by `leaderboard run` (each in its own folder) are
    the two points of one curve, in budget order, with the training's CPU time."""
    db = f"sqlite:///{tmp_path / 'sweep.sqlite'}"
    tiny = ["--archs", "resnet", "--heads", "scalar", "--seeds", 0, "--input-size", 32,
            "--width", 4, "--steps", 1, "--test-count", 4, "--db", db]
    for budget in (32, 64):
        ok(invoke("leaderboard", "run", *tiny, "--budget", budget,
                  "--out", tmp_path / f"b{budget}"))
    ok(invoke("leaderboard", "scaling", tmp_path / "out", "--db", db))
    table = pd.read_csv(tmp_path / "out" / "scaling.csv", comment="#")
    score = table[table["metric"] == "score"]
    assert score["budget"].tolist() == [32, 64] and (score["cpu_hours"] > 0).all()
    assert score["curve"].nunique() == 1 and score[list(TESTS)].notna().all().all()


def test_beside_a_board_export_each_keeps_its_own_results(engine, tmp_path):
    """A study written into a board's folder (or the reverse) replaces none of the other's
    files: its results are scaling-results.csv; and a folder name with a newline still
    gives files that import."""
    url = str(engine.url)
    folder = tmp_path / "two\nlines"
    ok(invoke("leaderboard", "export", folder, "--db", url))
    board_results = (folder / "results.csv").read_bytes()
    ok(invoke("leaderboard", "scaling", folder, "--db", url))
    ok(invoke("leaderboard", "export", folder, "--db", url))
    assert (folder / "results.csv").read_bytes().splitlines()[1:] == \
        board_results.splitlines()[1:]
    assert (folder / "scaling.md").exists() and (folder / "board.png").exists()
    for name in ("results.csv", "scaling-results.csv"):
        assert (folder / name).read_text().startswith("# Produced by `"), name
        ok(invoke("leaderboard", "import", folder / name, "--db",
                  f"sqlite:///{tmp_path / (name + '.sqlite')}"))


def test_an_empty_store_url_is_refused(tmp_path):
    fails_with(invoke("leaderboard", "scaling", tmp_path / "out", "--db", ""),
               "'' names no results store; expected an SQLAlchemy URL")
    fails_with(invoke("--db", " ", "leaderboard"), "' ' names no results store")
    assert not (tmp_path / "out").exists()
