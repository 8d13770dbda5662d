"""Every train and evaluate records itself; the sweep resumes after a kill."""
import pytest
from click.testing import CliRunner

from stickpose.cli import main
from stickpose.leaderboard.board import load
from stickpose.leaderboard.store import open_store
from stickpose.leaderboard.sweep import run_sweep, sweep_configs
from stickpose.train import TrainConfig, train

TINY = dict(input_size=32, width=8, batch_size=8, steps_per_epoch=2, validation_count=16,
            test_count=16)


@pytest.fixture
def store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    monkeypatch.setenv("STICKPOSE_DB", url)
    return url


def test_train_and_evaluate_record(store, tmp_path):
    evaluation = train(TrainConfig(arch="resnet", epochs=1, **TINY), tmp_path / "run", verbose=0)
    frame = load(open_store(store))
    assert set(frame["run_id"]) == {evaluation["run_id"]}
    assert set(frame["set"]) == {"test1", "test2", "test3", "test4"}
    assert set(frame["decoder"]) == {"quarter"} and frame["flops"].iloc[0] > 0
    assert frame["inference_ms"].iloc[0] > 0 and frame["epochs"].iloc[0] == 1
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "run"), "--sets", "test2",
                                       "--count", "8", "--decoders", "argmax",
                                       "--occlusion", "none,lower"])
    assert result.exit_code == 0, result.output
    frame = load(open_store(store))
    argmax = frame[frame["decoder"] == "argmax"]
    assert set(argmax["set"]) == {"test2", "test2/lower"}
    assert {"pck", "mse", "score", "pipeline_ms", "pck@0.025", "pck@0.3"} <= set(argmax["metric"])
    result = CliRunner().invoke(main, ["leaderboard", "plot", "--decoders", "--out",
                                       str(tmp_path / "curves.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_resumes_after_a_kill_between_entries(store, tmp_path):
    configs = sweep_configs(["resnet"], ["heatmap", "scalar"], [0], minutes=0.001, **TINY)
    finished = []

    def killed_after_first(name):
        finished.append(name)
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_sweep(configs, tmp_path / "sweep", store, killed_after_first)
    first = tmp_path / "sweep" / configs[0].name / "evaluation.json"
    stamp = first.stat().st_mtime_ns
    assert finished == [configs[0].name] and not (tmp_path / "sweep" / configs[1].name).exists()
    ids = run_sweep(configs, tmp_path / "sweep", store)
    assert first.stat().st_mtime_ns == stamp                 # the finished entry was skipped
    assert len(ids) == 2 and set(load(open_store(store))["run_id"]) == set(ids)
    assert (tmp_path / "sweep" / configs[1].name / "evaluation.json").is_file()
