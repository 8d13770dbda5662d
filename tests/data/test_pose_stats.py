"""The pose features and the comparison behind ``stickpose poses compare``."""
import json

import numpy as np
import pytest

from stickpose.data.pose_stats import FEATURES, compare_features, pose_features
from stickpose.data.poses import SAMPLERS
from tests.cli_helpers import fails_with, invoke, ok


def t_pose(head=1.0):
    """Upright, arms straight out sideways, legs straight down, torso 2 long (y down)."""
    pose = np.zeros((16, 2))
    pose[6], pose[7], pose[8] = (0, 0), (0, -2), (0, -2.5)
    pose[9] = (0, -2.5 - head)
    pose[12], pose[11], pose[10] = (-1, -2), (-2, -2), (-3, -2)        # right arm
    pose[13], pose[14], pose[15] = (1, -2), (2, -2), (3, -2)           # left arm
    pose[2], pose[1], pose[0] = (-0.5, 0), (-0.5, 2), (-0.5, 4)        # right leg
    pose[3], pose[4], pose[5] = (0.5, 0), (0.5, 2), (0.5, 4)           # left leg
    return pose


def test_features_of_a_hand_made_pose():
    pose = t_pose()
    pose[4], pose[5] = (2.5, 0), (2.5, 2)          # the left thigh raised level, as seated
    row = pose_features(pose[None]).iloc[0]
    assert row["head / torso"] == pytest.approx(0.5)
    assert row["shoulder width / torso"] == pytest.approx(1.0)
    assert row["hip width / torso"] == pytest.approx(0.5)
    assert list(row["elbow angle"]) == pytest.approx([180, 180])
    assert list(row["knee angle"]) == pytest.approx([180, 90])
    assert list(row["shoulder angle"]) == pytest.approx([90, 90])     # arms out sideways
    assert list(row["hip angle"]) == pytest.approx([180, 90])
    assert row["neck angle"] == pytest.approx(180) and row["trunk tilt"] == pytest.approx(0)
    assert row["aspect ratio"] == pytest.approx(np.log2(6 / 7.5))
    assert row["crossing limbs"] == 0
    assert row["arm foreshortening"] == pytest.approx(1.0)
    assert row["leg foreshortening"] == pytest.approx(1.0)          # both legs 4 long


def test_crossing_limbs_and_foreshortening_are_seen():
    pose = t_pose()
    pose[10] = (2, 1)            # the right forearm swings across the left leg's thigh line
    pose[11] = (-1, -1)
    row = pose_features(pose[None]).iloc[0]
    assert row["crossing limbs"] >= 1
    assert row["arm foreshortening"] < 1


def test_the_largest_difference_comes_first():
    rng = np.random.default_rng(0)
    reference = SAMPLERS["procedural"].sample(rng, 2000)
    same = compare_features(reference, reference)
    assert set(same["feature"]) == set(FEATURES) and (same["distance"] == 0).all()
    bigger_heads = reference.copy()
    bigger_heads[:, 9] = reference[:, 8] + 1.6 * (reference[:, 9] - reference[:, 8])
    table = compare_features(bigger_heads, reference)
    assert table["feature"].iloc[0] == "head / torso"
    assert table.loc[0, "mean"] == pytest.approx(1.6 * table.loc[0, "reference mean"], rel=1e-6)


def test_compare_command_on_a_small_bank(tmp_path):
    bank = tmp_path / "bank.npy"
    np.save(bank, SAMPLERS["procedural2"].sample(np.random.default_rng(1), 300))
    picture = tmp_path / "compare.png"
    output = ok(invoke("poses", "compare", bank, "--against", "procedural", "--count", 300,
                       "--out", picture, "--format", "json"))
    rows = json.loads(output[output.index("["):output.rindex("]") + 1])
    assert rows[0]["feature"] == "head / torso" and rows[0]["W/σ"] > 0.5
    assert picture.read_bytes()[:4] == b"\x89PNG"
    mixed = ok(invoke("poses", "compare", bank, "--against", f"procedural:1,{bank}:1",
                      "--count", 300))
    assert "300 poses of procedural:1," in mixed
    fails_with(invoke("poses", "compare", tmp_path / "nope.npy"),
               f"pose file {tmp_path / 'nope.npy'} does not exist")
    fails_with(invoke("poses", "compare", bank, "--against", "procedural:0,x.npy:1"),
               "each source of a mixture needs a positive weight")
    fails_with(invoke("poses", "compare", bank, "--out", tmp_path / "notes.txt"),
               "is not a .png file path")
