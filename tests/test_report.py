from click.testing import CliRunner

from stickpose.cli import main
from stickpose.leaderboard.store import open_store, record_run
from stickpose.runs import TrainConfig
from stickpose.training import train
from tests.browser import pictures_loaded, rendered_dom


def test_report_is_one_page_that_a_browser_renders(tmp_path, monkeypatch):
    monkeypatch.setenv("STICKPOSE_DB", f"sqlite:///{tmp_path / 'store.sqlite'}")
    run = tmp_path / "run"
    train(TrainConfig(arch="resnet", input_size=32, width=8, batch_size=8, steps_per_epoch=2,
                      epochs=1, validation_count=16, test_count=16), run, verbose=0)
    record_run(open_store(), run)
    result = CliRunner().invoke(main, ["evaluate", str(run), "--sets", "test1", "--count", "8",
                                       "--decoders", "argmax,gmm"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["report", str(run)])
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert page.count("<table") >= 4 and page.count("data:image/png;base64,") >= 5
    assert "rank <b>1</b> of 1 recorded runs" in page
    assert (run / "show" / "heatmaps-0.png").is_file()        # pictures made on the way
    dom = rendered_dom(run / "report.html", tmp_path / "browser")
    images, loaded = pictures_loaded(dom)
    assert images >= 5 and loaded == images                  # every picture decoded
    assert dom.count("<table") >= 4 and "PCK@0.15" in dom


def test_report_of_a_run_without_a_model(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    result = CliRunner().invoke(main, ["report", str(tmp_path / "run")])
    assert result.exit_code == 1 and "has no model (best.keras)" in result.output
    assert not (tmp_path / "run" / "report.html").exists()
