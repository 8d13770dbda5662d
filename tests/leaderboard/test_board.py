import csv
import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from stickpose.cli import main
from stickpose.leaderboard.board import best, comparison, load, render
from stickpose.leaderboard import store
from stickpose.leaderboard.store import config_hash, hashed_as_recorded, open_store, record
from tests.cli_helpers import fails_with, ok
from tests.leaderboard.test_store import config

SCORES = {("resnet", "heatmap"): [1.0, 1.4], ("resnet", "scalar"): [2.0],
          ("senet", "heatmap"): [0.9], ("senet", "scalar"): [3.0]}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def filled(store_url):
    url = store_url
    engine = open_store(url)
    for (arch, head), values in SCORES.items():
        for seed, value in enumerate(values):
            output = "quarter" if head == "heatmap" else "coordinates"
            sets = {name: {"score": value + k, "pck": 1 - value / 10, "images": 100}
                    for k, name in enumerate(("test1", "test2", "test3", "test4"))}
            record(engine, config(arch, head, seed), {"epochs": 2}, sets, output)
            if head == "heatmap":
                record(engine, config(arch, head, seed), None,
                       {"test1": {"score": value - 0.5, "pck": 0.99}}, "dark")
    return url, engine


def test_table_shape_means_and_best(filled):
    _, engine = filled
    table = comparison(load(engine), "score")
    assert list(table.columns) == [
        "arch", "head", "setup", "test1", "test2", "test3", "test4", "test1 std", "test2 std",
        "test3 std", "test4 std", "test1 images", "test2 images", "test3 images",
        "test4 images", "runs", "width", "budget", "params", "MFLOPs", "tta_images",
        "tta_cpu_seconds", "tta_runs", "tta_curves", "images"]
    assert len(table) == 4
    row = table[(table["arch"] == "resnet") & (table["head"] == "heatmap")].iloc[0]
    assert row["test1"] == pytest.approx(1.2) and row["runs"] == 2   # mean of two seeds
    assert row["test1 std"] == pytest.approx(0.2828, abs=1e-4)       # their spread (ddof 1)
    marks = best(table, "score")
    # senet heatmap's 0.9 is lowest; resnet heatmap's 1.2 (two seeds, standard error 0.2) is
    # within two standard errors of it: tied for first. The rest are clearly behind.
    assert table.loc[marks["test1"], ["arch", "head"]].values.tolist() == [
        ["resnet", "heatmap"], ["senet", "heatmap"]]
    pck = comparison(load(engine), "pck")
    leaders = pck.loc[best(pck, "pck")["test1"], ["arch", "head"]].values.tolist()
    assert ["senet", "heatmap"] in leaders and ["resnet", "scalar"] not in leaders  # highest
    by_decoder = comparison(load(engine), "score", decoders=True)
    assert len(by_decoder) == 6 and set(by_decoder["decoder"]) == {"quarter", "dark",
                                                                    "coordinates"}
    only = comparison(load(engine), "score", arch="senet", head="scalar")
    assert len(only) == 1 and only["test4"].iloc[0] == 6.0


def test_a_row_evaluated_on_fewer_images_is_shown_but_never_ranked(filled):
    """An 8-image evaluation (``evaluate --count 8``) that happens to score best is listed
    with its count, and first place stays with the rows measured on every image."""
    _, engine = filled
    sets = {name: {"score": 0.1, "pck": 0.99, "images": 8}
            for name in ("test1", "test2", "test3", "test4")}
    record(engine, config("unet", "heatmap", 0), {"epochs": 2}, sets, "quarter")
    table = comparison(load(engine), "score")
    few = table[table["arch"] == "unet"].index[0]
    assert table.at[few, "images"] == "8" and table.at[few, "test1"] == pytest.approx(0.1)
    marks = best(table, "score")
    assert not marks.loc[few].any()
    assert table.loc[marks["test1"], ["arch", "head"]].values.tolist() == [
        ["resnet", "heatmap"], ["senet", "heatmap"]]
    assert "0.100 *" not in render(table, "score", "table")
    # a row whose cells differ: test1 on every image (100) competes, test2-4 on 8 do not
    record(engine, config("unet", "heatmap", 0), None, {"test1": {"score": 0.05, "images": 100}},
           "quarter")
    table = comparison(load(engine), "score")
    few = table[table["arch"] == "unet"].index[0]
    assert table.at[few, "images"] == "8-100" and table.at[few, "test1 images"] == 100
    marks = best(table, "score")
    assert marks.at[few, "test1"] and not marks.loc[few, ["test2", "test3", "test4"]].any()
    record(engine, config("senet", "heatmap", 0, epochs=8), {"epochs": 8, "train_images": 800},
           {name: {"score": 0.2, "images": 100} for name in ("test1", "test2", "test3",
                                                             "test4")}, "quarter")
    table = comparison(load(engine), "score")          # a longer run: shown, not ranked
    longer = table[table["budget"] == 800].index[0]
    assert not best(table, "score").loc[longer].any()
    assert best(table, "score")["test1"].sum() == 1                  # unet's 0.05 still


def test_every_format(filled):
    _, engine = filled
    table = comparison(load(engine), "score")
    text = render(table, "score", "table")
    assert "0.900 *" in text and "1.200 ± 0.283" in text
    assert "**0.900**" in render(table, "score", "md")
    assert "<b>0.900</b>" in render(table, "score", "html")
    csv = pd.read_csv(pd.io.common.StringIO(render(table, "score", "csv")))
    assert csv.shape == (4, 25)
    records = json.loads(render(table, "score", "json"))
    senet = [r for r in records["rows"] if r["arch"] == "senet" and r["head"] == "heatmap"]
    assert senet[0]["best"] == ["test1", "test2", "test3", "test4"]


def test_cli_table_filters_and_bad_input(filled):
    url, _ = filled
    output = invoke("leaderboard", "--db", url, "--metric", "pck", "--format", "md").output
    assert "senet" in output and "**0.910**" in output          # PCK: highest in bold
    assert invoke("leaderboard", "--db", url, "--where").output.strip() == store.where(url)
    for args, message in [
            (["--metric", "f1"],
             "unknown metric 'f1'; known: score, score_written, flip_score, swap, pck, mse"),
            (["--arch", "vgg"], "no recorded run has architecture 'vgg'; recorded: resnet"),
            (["--head", "dense"], "no recorded run has head 'dense'; recorded: heatmap"),
            (["--data", "coco"], "unknown data 'coco'; known: stickman, class, lsp"),
            (["--format", "pdf"], "unknown format 'pdf'; known: table, md, csv, html, json")]:
        result = invoke("leaderboard", "--db", url, *args)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output
    for budget in ("0", "-5", "soon", "1.5", "2G"):
        fails_with(invoke("leaderboard", "run", "--budget", budget, "--db", url),
                   f"Invalid value for --budget: '{budget}' is not a number of images like "
                   "200k, 1.5M or 96000")
    fails_with(invoke("leaderboard", "run", "--budget", "5m", "--db", url),
               "(the budget is a number of training images now; a time limit is "
               "--time-limit 5m)")
    for limit in ("0", "-5m", "soon"):
        fails_with(invoke("leaderboard", "run", "--time-limit", limit, "--db", url),
                   f"Invalid value for --time-limit: '{limit}' is not a positive duration")


def test_filters_that_match_nothing(filled):
    url, _ = filled
    output = invoke("leaderboard", "--db", url, "--data", "lsp").output
    assert "no recorded results match these filters" in output


def test_data_filter_knows_a_users_own_suite(filled):
    """A run trained on the user's suite file mine.toml, scored on stickman's test1, is
    found with ``--data mine``, the name its data is recorded under."""
    url, engine = filled
    record(engine, config("unet", "scalar", suite="/somewhere/mine.toml"), None,
           {"test1": {"score": 0.5, "images": 100}}, "coordinates")
    output = invoke("leaderboard", "--db", url, "--data", "mine").output
    assert "unet" in output and "0.500" in output and "resnet" not in output, output
    fails_with(invoke("leaderboard", "--db", url, "--data", "yours"),
               "unknown data 'yours'; known: stickman, class, lsp, mine")


def test_export_round_trip_and_import_without_duplicates(filled, another_store, tmp_path):
    url, engine = filled
    result = invoke("leaderboard", "--db", url, "export", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for name in ("stickman.md", "stickman.csv", "stickman.png", "decoders.md", "results.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    first = (tmp_path / "out" / "stickman.md").read_text().splitlines()[0]
    assert "stickpose leaderboard" in first and "export" in first and "stickpose 0." in first
    stickman = (tmp_path / "out" / "stickman.md").read_text()
    # resnet heatmap has seeds 0 and 1 (test1 1.0 and 1.4): mean 1.2, std 0.283
    assert "**0.900**" in stickman and "1.200 ± 0.283" in stickman and "lower is better" \
        in stickman
    assert "dark" in (tmp_path / "out" / "decoders.md").read_text()
    other = another_store()
    for _ in range(2):                                      # twice: nothing duplicated
        result = invoke("leaderboard", "import", tmp_path / "out" / "results.csv", "--db", other)
        assert result.exit_code == 0 and "merged 5 runs" in result.output, result.output
    again = load(open_store(other))
    assert len(again) == len(load(engine))
    pd.testing.assert_frame_equal(comparison(again, "score"), comparison(load(engine), "score"))
    exported = pd.read_csv(tmp_path / "out" / "results.csv", comment="#", dtype=str)
    tampered = exported.copy()
    tampered.loc[tampered["arch"] == "senet", "config"] = tampered.loc[
        tampered["arch"] == "senet", "config"].str.replace('"seed": 0', '"seed": 9')
    tampered.to_csv(tmp_path / "tampered.csv", index=False)
    fresh = another_store()
    open_store(fresh, create=True)
    fails_with(invoke("leaderboard", "import", tmp_path / "tampered.csv", "--db", fresh),
               "has a config that does not match its config_hash (edited or damaged?); "
               "nothing was imported")
    relabelled = exported.assign(arch=exported["arch"].replace("senet", "unet"))
    relabelled.to_csv(tmp_path / "relabelled.csv", index=False)
    fails_with(invoke("leaderboard", "import", tmp_path / "relabelled.csv", "--db", fresh),
               "says arch 'unet' but its config says 'senet'")
    assert load(open_store(fresh)).empty
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    result = invoke("leaderboard", "import", tmp_path / "wrong.csv", "--db", other)
    assert result.exit_code == 1 and "is not a stickpose results file: it lacks" in result.output


def test_plot_writes_a_png(filled, tmp_path):
    url, _ = filled
    result = invoke("leaderboard", "--db", url, "plot", "--out", tmp_path / "b.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = invoke("leaderboard", "plot", "--out", tmp_path / "b.jpg", "--db", url)
    assert result.exit_code == 2 and "is not a .png file path" in result.output


def test_the_overview_is_the_whole_board_in_one_figure(filled, tmp_path):
    """Per arch x head: the mean of each run's four-set mean, its spread over seeds; a run
    measured on fewer sets is left out; export draws it as board.png."""
    from stickpose.leaderboard.board import export, overview

    url, engine = filled
    record(engine, config("unet", "heatmap", 0), {"epochs": 2},
           {"test1": {"score": 0.5, "images": 100}}, "quarter")      # one set: not shown
    table = overview(load(engine), "stickman").set_index(["arch", "head"])
    assert list(table.index) == [("resnet", "heatmap"), ("resnet", "scalar"),
                                 ("senet", "heatmap"), ("senet", "scalar")]
    # resnet heatmap: seeds of 1.0-4.0 and 1.4-4.4 on test1-test4: 2.5 and 2.9
    assert table.loc[("resnet", "heatmap"), "mean"] == pytest.approx(2.7)
    assert table.loc[("resnet", "heatmap"), "std"] == pytest.approx(0.4 / 2 ** 0.5)
    assert table.loc[("resnet", "heatmap"), "runs"] == 2
    assert table.loc[("senet", "heatmap"), "mean"] == pytest.approx(2.4)
    assert overview(load(engine), "class").empty
    # a longer run of one cell (a shipped model's: four times the budget, better) has a
    # row of its own on the board, but the figure shows each cell at the usual budget
    record(engine, config("senet", "heatmap", 0, epochs=8), {"epochs": 8, "train_images": 800},
           {name: {"score": 0.1, "images": 100} for name in ("test1", "test2", "test3",
                                                             "test4")}, "quarter")
    table = overview(load(engine), "stickman").set_index(["arch", "head"])
    assert table.loc[("senet", "heatmap"), "mean"] == pytest.approx(2.4)
    assert len(comparison(load(engine), "score").query("arch == 'senet' & head == 'heatmap'")) \
        == 2
    written = export(engine, tmp_path / "out", "test")[0]
    assert (tmp_path / "out" / "board.png") in written
    assert (tmp_path / "out" / "board.png").read_bytes()[:4] == b"\x89PNG"


def test_unreachable_and_corrupt_db_on_the_command_line(tmp_path):
    corrupt = tmp_path / "c.sqlite"
    corrupt.write_bytes(b"junk" * 1000)
    result = invoke("leaderboard", "--db", f"sqlite:///{corrupt}")
    assert result.exit_code == 1 and "file is not a database" in result.output
    assert corrupt.read_bytes() == b"junk" * 1000
    result = invoke("leaderboard", "--db", "postgresql://nobody:pw@127.0.0.1:1/x")
    assert result.exit_code == 1 and result.output.startswith(
        "Error: cannot reach results store postgresql://nobody:***@127.0.0.1:1/x: ")
    assert "pw" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("column, bad, message", [
    ("value", "nan", "column value: 'nan' is not a finite number"),
    ("value", "inf", "column value: 'inf' is not a finite number"),
    ("images", "abc", "column images: 'abc' is not a finite number"),
    (None, None, "has 5 field(s), the header"),
])
def test_import_refuses_bad_numbers_and_short_rows_and_imports_nothing(
        filled, another_store, tmp_path, column, bad, message):
    """A results file is a sweep's memory: a value that is not a finite number, or a row cut
    short, is refused naming the file, the line and the column, and the store keeps what it
    had (no good cell blanked)."""
    url, engine = filled
    ok(invoke("leaderboard", "--db", url, "export", tmp_path / "out"))
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    header = lines[1].split(",")                 # line 1 is the stamp
    target = next(n for n, line in enumerate(lines) if n > 1 and ",score," in line)
    row = next(csv.reader([lines[target]]))
    if column is None:
        lines[target] = ",".join(row[:5])
    else:
        row[header.index(column)] = bad
        writer = io.StringIO()
        csv.writer(writer, lineterminator="").writerow(row)
        lines[target] = writer.getvalue()
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    other = another_store()
    ok(invoke("leaderboard", "import", tmp_path / "out" / "results.csv", "--db", other))
    before = load(open_store(other))
    fails_with(invoke("leaderboard", "import", tmp_path / "bad.csv", "--db", other),
               f"cannot import {tmp_path / 'bad.csv'}: line {target + 1}")
    fails_with(invoke("leaderboard", "import", tmp_path / "bad.csv", "--db", other), message)
    pd.testing.assert_frame_equal(load(open_store(other)), before)


def test_a_runs_identity_leaves_out_where_its_data_lives():
    """The same setup has the same id on every machine: where the class's files are is not
    part of it, and ids hashed with it (before) still verify on import."""
    config = {"arch": "resnet", "head": "heatmap", "suite": "class", "seed": 0,
              "input_size": 64, "width": 8, "class_dir": "/home/a/IamStickman"}
    moved = {**config, "class_dir": "/srv/b/IamStickman"}
    assert config_hash(config) == config_hash(moved)
    assert config_hash(config, local=True) != config_hash(moved, local=True)
    assert hashed_as_recorded(moved, config_hash(moved, local=True))
    assert not hashed_as_recorded({**config, "seed": 1}, config_hash(config))


def test_import_refuses_rows_that_contradict_each_other(filled, another_store, tmp_path):
    """An empty measured value, one result given twice with two values, a run with two
    settings, a seed that is not its config's, or a number written oddly: each refused,
    naming the lines; a byte-order mark (a spreadsheet's save) is read."""
    url, engine = filled
    ok(invoke("leaderboard", "--db", url, "export", tmp_path / "out"))
    text = (tmp_path / "out" / "results.csv").read_text()
    stamp, rows = text.splitlines()[0], list(csv.reader(text.splitlines()[1:]))
    header = rows[0]
    column = header.index
    first = next(n for n, row in enumerate(rows) if n and row[column("metric")] == "score")
    other = next(n for n, row in enumerate(rows) if n > first and row[column("run_id")]
                 == rows[first][column("run_id")])

    def variant(name, change):
        changed = [list(row) for row in rows]
        change(changed)
        writer = io.StringIO()
        csv.writer(writer, lineterminator="\n").writerows(changed)
        (tmp_path / name).write_text(stamp + "\n" + writer.getvalue())
        return tmp_path / name

    def setting(rows_, key, value, at):
        rows_[at][column(key)] = value

    cases = {
        "empty.csv": (lambda r: setting(r, "value", "", first),
                      f"line {first + 2}, column value: empty, but the result is a measurement"),
        "twice.csv": (lambda r: r.append([*r[first][:column("value")], "9.99",
                                          *r[first][column("value") + 1:]]),
                      f"line {first + 2} and line {len(rows) + 2}: the same result"),
        "settings.csv": (lambda r: setting(r, "width", "5", other),
                         "has two different width"),
        "seed.csv": (lambda r: [setting(r, "seed", "7", n) for n in range(1, len(r))
                                if r[n][column("run_id")] == r[first][column("run_id")]],
                     "says seed 7 but its config says"),
        "underscore.csv": (lambda r: setting(r, "value", "1_000", first),
                           "column value: '1_000' is not a finite number"),
        "negative.csv": (lambda r: setting(r, "value", "-2", first),
                         f"line {first + 2}, column value: '-2' is impossible: score"),
        "pck.csv": (lambda r: [setting(r, "value", "7.5", n) for n in range(1, len(r))
                               if r[n][column("metric")] == "pck"][:1],
                    "is impossible: pck is a share, between 0 and 1"),
        "images.csv": (lambda r: setting(r, "images", "-5", first),
                       f"line {first + 2}, column images: '-5' is impossible: not a positive whole"),
        "zero.csv": (lambda r: setting(r, "images", "0", first),
                     "column images: '0' is impossible: not a positive whole number"),
    }
    store = another_store()
    ok(invoke("leaderboard", "import", tmp_path / "out" / "results.csv", "--db", store))
    before = load(open_store(store))
    for name, (change, message) in cases.items():
        fails_with(invoke("leaderboard", "import", variant(name, change), "--db", store),
                   message)
    pd.testing.assert_frame_equal(load(open_store(store)), before)
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert "merged 5 runs" in ok(invoke("leaderboard", "import", tmp_path / "bom.csv",
                                        "--db", store))


def test_both_suites_in_csv_or_json_are_one_document(filled, tmp_path):
    """Without --suite the board has a table per suite; as CSV or JSON it is still one
    document that a program can read (a suite column; an object keyed by suite)."""
    url, engine = filled
    from stickpose.leaderboard.reference import record_class_table

    record_class_table(engine)                   # shown under score_written alone
    store.record(engine, {"arch": "resnet", "head": "heatmap", "suite": "class", "seed": 0,
                          "input_size": 64, "width": 8},
                 {}, {f"class/test{k}": {"score": 1.5, "images": 879} for k in range(1, 5)},
                 "quarter", "")
    data = json.loads(ok(invoke("leaderboard", "--db", url, "--format", "json")))
    assert set(data) == {"stickman", "class"} and data["stickman"]["rows"]
    table = pd.read_csv(io.StringIO(ok(invoke("leaderboard", "--db", url, "--format", "csv"))))
    assert list(table.columns[:3]) == ["suite", "arch", "head"]
    assert set(table["suite"]) == {"stickman", "class"}
    stickman = table[table["suite"] == "stickman"]
    assert stickman.loc[stickman["runs"].notna(), "test1"].notna().all()
    assert len(stickman) == 18                   # every cell, measured or not


def test_export_never_replaces_a_file_it_did_not_write(filled, tmp_path):
    url, engine = filled
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "results.csv").write_text("my notes\n")
    fails_with(invoke("leaderboard", "--db", url, "export", folder),
               "results.csv is not a file `stickpose leaderboard export` wrote")
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv"]
    assert (folder / "results.csv").read_text() == "my notes\n"
    (folder / "results.csv").unlink()
    for _ in range(2):                                   # its own files: replaced
        ok(invoke("leaderboard", "--db", url, "export", folder))
    assert (folder / "stickman.png").is_file()


def test_import_says_how_many_values_it_replaced(filled, another_store, tmp_path):
    url, engine = filled
    ok(invoke("leaderboard", "--db", url, "export", tmp_path / "out"))
    store = another_store()
    path = tmp_path / "out" / "results.csv"
    count = len(load(open_store(url)))
    assert f"{count} new, 0 replaced" in ok(invoke("leaderboard", "import", path, "--db", store))
    assert f"0 new, 0 replaced a different value the store held, {count} already held" in ok(
        invoke("leaderboard", "import", path, "--db", store))    # the same values again
    text = path.read_text().replace(",score,1.0,", ",score,1.25,", 1)
    assert text != path.read_text()
    (tmp_path / "changed.csv").write_text(text)
    assert "0 new, 1 replaced a different value the store held" in ok(
        invoke("leaderboard", "import", tmp_path / "changed.csv", "--db", store))


def test_a_column_left_out_of_an_import_never_overwrites_the_store(filled, another_store,
                                                                   tmp_path):
    url, _ = filled
    ok(invoke("leaderboard", "--db", url, "export", tmp_path / "out"))
    full = pd.read_csv(tmp_path / "out" / "results.csv", comment="#")
    store = another_store()
    ok(invoke("leaderboard", "import", tmp_path / "out" / "results.csv", "--db", store))
    before = load(open_store(store))
    full.drop(columns=["images", "train_images"]).to_csv(tmp_path / "lean.csv", index=False)
    assert f"0 new, 0 replaced a different value the store held, {len(before)} already " \
        "held" in ok(invoke("leaderboard", "import", tmp_path / "lean.csv", "--db", store))
    pd.testing.assert_frame_equal(load(open_store(store)).drop(columns="recorded_at"),
                                  before.drop(columns="recorded_at"))   # images kept
    for identity in ("data_id", "params"):
        full.drop(columns=identity).to_csv(tmp_path / "partial.csv", index=False)
        fails_with(invoke("leaderboard", "import", tmp_path / "partial.csv", "--db", store),
                   f"it lacks the column(s) {identity}")
    assert len(load(open_store(store))) == len(before)          # never doubled


def test_a_folder_holds_one_export(filled, another_store, tmp_path):
    """Exporting a class-only store over a full export removes the tables the new
    results.csv would contradict, and says so; a file of the user's is still refused."""
    url, _ = filled
    folder = tmp_path / "out"
    ok(invoke("leaderboard", "--db", url, "export", folder))
    assert (folder / "stickman.md").is_file() and (folder / "decoders.md").is_file()
    store = another_store()
    from stickpose.leaderboard.reference import record_class_table
    record_class_table(open_store(store))
    output = ok(invoke("leaderboard", "--db", store, "export", folder))
    for name in ("stickman.md", "stickman.csv", "stickman.png", "decoders.md"):
        assert not (folder / name).exists() and f"removed {folder / name}" in output
    assert (folder / "class.md").is_file() and (folder / "results.csv").is_file()


def test_every_built_in_suite_has_its_board(tmp_path):
    """A run on any suite stickpose ships (class-2022 and class-poses too) is shown and
    exported; the command line's list is the board's."""
    from stickpose.cli.leaderboard import BOARD_SUITES
    from stickpose.data.suites import known_suites
    from stickpose.leaderboard.board import SUITES

    assert set(SUITES) == set(BOARD_SUITES) == set(known_suites())
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    engine = open_store(url)
    record(engine, config("unet", "integral", suite="class-2022"), None,
           {f"class-2022/test{k}": {"score": 1.5, "images": 879} for k in range(1, 5)},
           "coordinates")
    output = ok(invoke("leaderboard", "--suite", "class-2022", "--db", url))
    assert "unet" in output and "1.500" in output
    assert "1.500" in ok(invoke("leaderboard", "--db", url))          # the bare command too
    ok(invoke("leaderboard", "--db", url, "export", tmp_path / "out"))
    assert "1.500" in (tmp_path / "out" / "class-2022.md").read_text()
