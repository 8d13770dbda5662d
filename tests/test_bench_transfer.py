"""``bench transfer``: models trained on each pose source, scored on stickman's test sets and
on the class's poses drawn the same way (suite class-poses), resumable and guarded."""
import pytest

from stickpose.bench import bench_transfer, transfer_entries
from stickpose.data.suites import load_suite
from stickpose.errors import StickposeError
from stickpose.runs import RunDir
from tests.cli_helpers import fails_with, invoke

pytestmark = pytest.mark.slow

TINY = dict(input_size=32, width=8, batch_size=8, steps_per_epoch=2, epochs=1,
            validation_count=8, test_count=8)


def test_transfer_table_reuses_finished_runs_and_refuses_other_settings(class_dir, tmp_path):
    real = load_suite("class-poses", class_dir)
    entries = transfer_entries(tmp_path / "runs", ["procedural", "procedural2"],
                               models=(("resnet", "scalar"),), **TINY)
    assert [folder.name for folder in entries] == ["resnet-scalar-procedural",
                                                   "resnet-scalar-procedural2"]
    table = bench_transfer(entries, real, test_count=8)
    assert list(table["poses"]) == ["procedural", "procedural2"]
    for _, row in table.iterrows():
        assert row["gap test1 %"] == pytest.approx(
            100 * (row["real test1"] / row["stickman test1"] - 1))
        assert all(row[f"{kind} test{k}"] > 0 for kind in ("stickman", "real")
                   for k in range(1, 5))
    stamps = {f: (f / RunDir.BEST).stat().st_mtime_ns for f in entries}
    again = bench_transfer(entries, real, test_count=8)           # nothing trained again
    assert {f: (f / RunDir.BEST).stat().st_mtime_ns for f in entries} == stamps
    assert again[["stickman test1", "real test1"]].equals(table[["stickman test1",
                                                                 "real test1"]])
    longer = transfer_entries(tmp_path / "runs", ["procedural"], models=(("resnet", "scalar"),),
                              **{**TINY, "epochs": 2})
    with pytest.raises(StickposeError, match="was trained with other settings: epochs 1"):
        bench_transfer(longer, real, test_count=8)


def test_transfer_command_needs_the_class_files(class_dir, tmp_path):
    fails_with(invoke("bench", "transfer", "--out", tmp_path / "runs"),
               "reads the class baseline's test_split; give its folder with --class-dir")
    fails_with(invoke("bench", "transfer", "--class-dir", tmp_path / "nope", "--out",
                      tmp_path / "runs"), "nope")
    fails_with(invoke("bench", "transfer", "--class-dir", class_dir, "--poses",
                      "procedural:0,x.npy:1", "--out", tmp_path / "runs"),
               "each source of a mixture needs a positive weight")
    assert not (tmp_path / "runs").exists()
