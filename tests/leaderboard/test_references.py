"""Stand-ins and floors: measured on a suite's sets, recorded as reference rows, shown under
the right protocol (the class's published rows only under its code as written)."""
import io

import numpy as np
import pandas as pd
import pytest

from stickpose.data.render import drawn_joints
from stickpose.data.suites import load_suite
from stickpose.references import FLOORS, STAND_INS, suite_references
from stickpose.skeleton import HEAD_TOP, UPPER_NECK
from tests.cli_helpers import invoke, ok


def test_the_drawing_oracle_keeps_what_the_picture_shows(class_dir):
    suite = load_suite("class", class_dir)
    references, sets = suite_references(suite, ["test1"], 30)
    assert set(references) == set(STAND_INS + FLOORS)
    truth = sets["test1"][1]
    np.testing.assert_array_equal(references["perfect keypoints"]["test1"], truth)
    assert not references["all zeros"]["test1"].any()
    from stickpose.data.stickman import StickmanGenerator
    placed = StickmanGenerator(suite.sets["test1"].config, suite.sets["test1"].seed).placed(0)[0]
    shown = drawn_joints(placed[:30], "class")
    assert (~shown).any()                          # the 2021 drawing hides joints
    oracle = references["drawing floor"]["test1"]
    np.testing.assert_array_equal(oracle[shown], truth[shown])
    assert not np.array_equal(oracle[~shown], truth[~shown])
    assert ((oracle >= 0) & (oracle <= 224)).all()
    head = ~shown[:, HEAD_TOP] & shown[:, UPPER_NECK]     # mirrored through the circle
    if head.any():
        error = np.abs(oracle[head, HEAD_TOP] - truth[head, HEAD_TOP])
        assert error.max() <= 2.5


def test_reference_rows_on_the_board(class_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STICKPOSE_DB", f"sqlite:///{tmp_path / 'store.sqlite'}")
    output = ok(invoke("leaderboard", "reference", "--suite", "class", "--class-dir", class_dir,
                       "--test-count", 20))
    assert "label + drawing floor" in output
    intended = pd.read_csv(io.StringIO(ok(invoke(
        "leaderboard", "--suite", "class", "--format", "csv"))))
    written = pd.read_csv(io.StringIO(ok(invoke(
        "leaderboard", "--suite", "class", "--metric", "score_written", "--format", "csv"))))
    heads = set(intended.loc[intended["arch"] == "reference", "head"])
    assert heads == set(STAND_INS + FLOORS)
    perfect = intended[intended["head"] == "perfect keypoints"].iloc[0]
    assert perfect["test1"] == 0
    assert "test1 reported" not in intended         # the class's numbers: as written only
    senet = written[(written["arch"] == "senet") & (written["head"] == "scalar")].iloc[0]
    assert senet["test2 reported"] == pytest.approx(1.20)
    assert written.loc[written["head"] == "perfect keypoints", "test1"].iloc[0] >= 0
