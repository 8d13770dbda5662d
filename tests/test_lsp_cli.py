"""The LSP commands end to end on small fixtures in LSP's own formats."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from stickpose.data.storage import load_dataset
from tests.lsp_fixture import write_lsp
from tests.cli_helpers import fails_with, invoke, ok


@pytest.fixture(scope="module")
def lsp(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp")
    truth = write_lsp(root / "lsp_dataset", 2000)
    write_lsp(root / "lspet_dataset", 40, "lspet", seed=1)
    return root, truth


def _numbers(output: str) -> list[float]:
    """The values row of each of the two printed tables."""
    rows = [line for line in output.splitlines() if line.startswith(" ")]
    return [float(v) for row in rows for v in row.split()]


def test_score_reads_every_prediction_layout(lsp, tmp_path):
    root, truth = lsp
    gt = root / "lsp_dataset" / "joints.mat"
    test = truth[1000:]
    savemat(str(tmp_path / "two.mat"), {"pred": test.transpose(2, 1, 0) + 1})     # 2 x 14 x N
    three = np.concatenate([test + 1, np.ones((1000, 14, 1))], -1).transpose(2, 1, 0)
    savemat(str(tmp_path / "three.mat"), {"joints": three})                      # 3 x 14 x N
    np.save(tmp_path / "pred.npy", test)                                          # N x 14 x 2
    outputs = [ok(invoke("lsp", "score", tmp_path / name, gt))
               for name in ("two.mat", "three.mat", "pred.npy")]
    for output in outputs:
        assert "[1001:2000]" in output
        assert _numbers(output) == [100.0] * 9 + [100.0] * 7     # perfect on every part
    shifted = test.copy()
    shifted[:, [0, 5]] += 1000                                    # both ankles far off
    np.save(tmp_path / "off.npy", shifted)
    output = ok(invoke("lsp", "score", tmp_path / "off.npy", gt, "--out", tmp_path / "s.json"))
    result = json.loads((tmp_path / "s.json").read_text())
    assert result["pck"]["Ankle"] == 0.0 and result["pck"]["Knee"] == 100.0
    assert result["pck"]["Mean"] == pytest.approx(100 * 12 / 14)
    assert result["pcp"]["Lower leg"] == 0.0 and result["pcp"]["Mean"] == pytest.approx(80.0)
    assert "85.7" in output
    np.save(tmp_path / "first.npy", truth[:10])
    assert _numbers(ok(invoke("lsp", "score", tmp_path / "first.npy", gt, "--range", "1:10"))
                    )[7] == 100.0


@pytest.mark.parametrize("make, extra, message", [
    (lambda p: np.save(p / "p.npy", np.zeros((999, 14, 2))), [],
     "999 predictions for range 1:2000 (2000 poses); they must match"),
    (lambda p: np.save(p / "p.npy", np.zeros((1000, 16, 2))), [],
     "have shape (1000, 16, 2); expected (N, 14, 2)"),
    (lambda p: savemat(str(p / "p.mat"), {"preds": np.zeros((2, 14, 3))}), [],
     "has no variable `pred` or `joints` (it has preds)"),
    (lambda p: savemat(str(p / "p.mat"), {"pred": np.zeros((14, 2, 3))}), [],
     "`pred` has shape (14, 2, 3); expected 2 x 14 x N or 3 x 14 x N"),
    (lambda p: np.save(p / "p.npy", np.zeros((10, 14, 2))), ["--range", "1995:2004"],
     "range 1995:2004 is outside the 2000 poses"),
    (lambda p: np.save(p / "p.npy", np.zeros((10, 14, 2))), ["--range", "ten"],
     "range 'ten' is not A:B"),
])
def test_score_bad_input(lsp, tmp_path, make, extra, message):
    make(tmp_path)
    path = next(tmp_path.glob("p.*"))
    fails_with(invoke("lsp", "score", path, lsp[0] / "lsp_dataset" / "joints.mat", *extra),
                message)


def test_train_on_lsp_from_a_stickman_run_then_evaluate(lsp, tmp_path):
    root, _ = lsp
    common = ["--arch", "resnet", "--input-size", 32, "--width", 8, "--batch-size", 8,
              "--steps", 2, "--epochs", 1, "--test-count", 16]
    ok(invoke("train", *common, "--out", tmp_path / "stickman"))
    output = ok(invoke("train", *common, "--data", f"lsp:{root}", "--init",
                        tmp_path / "stickman", "--out", tmp_path / "lsp"))
    assert "lsp-test:" in output and "LSP PCK@0.2" in output
    assert "2000 poses, LSP (3 x 14 x N, flag 0 = visible)" in output
    assert "40 poses, LSP-extended (14 x 3 x N, flag 1 = visible)" in output
    saved = json.loads((tmp_path / "lsp" / "evaluation.json").read_text())["sets"]["lsp-test"]
    assert 0 <= saved["lsp_pck"] <= 100 and "PCP Torso" in saved
    config = json.loads((tmp_path / "lsp" / "config.json").read_text())
    assert config["data"] == f"lsp:{root}" and config["init"] == str(tmp_path / "stickman")
    output = ok(invoke("evaluate", tmp_path / "lsp", "--data", f"lsp:{root}", "--count", 16,
                        "--decoders", "argmax,gmm"))
    assert "LSP PCK@0.2 per part" in output and "LSP strict PCP per part" in output
    table = pd.read_csv(tmp_path / "lsp" / "evaluation" / "evaluation.csv")
    assert list(table["decoder"]) == ["argmax", "gmm"] and (table["images"] == 16).all()
    assert table["PCK Ankle"].between(0, 100).all()
    # a stickman model of another width cannot start this one
    fails_with(invoke("train", *common[:4], "--width", 16, *common[6:], "--data",
                       f"lsp:{root}", "--init", tmp_path / "stickman", "--out",
                       tmp_path / "mismatch"),
                "has width 8 but this run has 16; the models must match")
    assert not (tmp_path / "mismatch").exists()


def test_lsp_bad_input(lsp, tmp_path):
    root, _ = lsp
    fails_with(invoke("train", "--data", f"lsp:{tmp_path / 'nowhere'}", "--out",
                       tmp_path / "run"), "does not exist. LSP and LSP-extended are at")
    fails_with(invoke("train", "--data", "coco:x", "--out", tmp_path / "run"),
                "data 'coco:x' is unknown; expected stickman or lsp:DIR")
    assert not (tmp_path / "run").exists()


def test_generate_with_lsp_poses(lsp, tmp_path):
    root, _ = lsp
    ok(invoke("generate", "--poses", f"lsp:{root}", "--count", 8, "--size", 48, "--out",
               tmp_path / "set"))
    meta = load_dataset(tmp_path / "set").meta
    assert meta["poses"]["path"] == f"lsp:{root}" and meta["poses"]["poses"] == 2036
