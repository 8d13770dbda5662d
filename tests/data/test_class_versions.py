"""The class's two drawings, rule by rule (design.md section 9): ``class`` as its October
2021 code drew the test sets of ``Dataset.zip`` (stretch to [0, S], no limb at a joint with
x = 0 or y = 0, training batches stretched together) and ``class-2022`` as its code draws
today ([0, S - 1], every limb). Each expected image is built from the rules alone: the
limbs a rule keeps, drawn between the rounded endpoints the stretch formula gives."""
import cv2
import numpy as np
import pytest

from stickpose.data.placement import class_stretch
from stickpose.data.render import draw_stickman_class
from stickpose.data.stickman import ConfigError, StickmanConfig, StickmanGenerator
from stickpose.skeleton import LIMBS, line_thickness

S = 64          # a 64 px frame: lines 1 px thick
NAMES = {"r_ankle": 0, "r_knee": 1, "r_hip": 2, "l_hip": 3, "l_knee": 4, "l_ankle": 5,
         "pelvis": 6, "thorax": 7, "upper_neck": 8, "head_top": 9, "r_wrist": 10,
         "r_elbow": 11, "r_shoulder": 12, "l_shoulder": 13, "l_elbow": 14, "l_wrist": 15}

# A standing figure, already spanning [0, 64] on both axes, so that the 2021 stretch to
# [0, S] leaves every coordinate where it is: the leftmost joint is the right wrist
# (x = 0), the topmost the head top (y = 0), the rightmost the left wrist (x = 64 = S,
# one column past the frame) and the lowest the right ankle (y = 64 = S).
STANDING = {"r_ankle": (20, 64), "r_knee": (22, 50), "r_hip": (24, 36), "l_hip": (36, 36),
            "l_knee": (40, 50), "l_ankle": (44, 60), "pelvis": (30, 36), "thorax": (30, 20),
            "upper_neck": (30, 12), "head_top": (30, 0), "r_wrist": (0, 24),
            "r_elbow": (10, 22), "r_shoulder": (22, 20), "l_shoulder": (38, 20),
            "l_elbow": (52, 22), "l_wrist": (64, 24)}

CASES = {
    # the leftmost joint a wrist, the topmost the head top: the forearm and the neck-to-top
    # limb are left out (the head circle covers the latter's pixels anyway)
    "wrist leftmost, head top topmost": (STANDING, {("r_wrist", "r_elbow"),
                                                   ("upper_neck", "head_top")}),
    # a raised hand is the topmost joint: its forearm goes too, the head's limb stays
    "a raised hand topmost": ({**STANDING, "head_top": (30, 4), "l_wrist": (64, 0),
                               "l_elbow": (54, 10)},
                              {("r_wrist", "r_elbow"), ("l_elbow", "l_wrist")}),
    # one joint both leftmost and topmost: only its own limb goes
    "one joint leftmost and topmost": ({**STANDING, "head_top": (30, 4), "r_wrist": (0, 0),
                                        "r_elbow": (8, 10)}, {("r_wrist", "r_elbow")}),
    # two joints share the smallest x: both of their limbs go
    "two joints leftmost": ({**STANDING, "r_ankle": (0, 64), "r_knee": (6, 50)},
                            {("r_wrist", "r_elbow"), ("r_ankle", "r_knee"),
                             ("upper_neck", "head_top")}),
}


def _pose(joints: dict) -> np.ndarray:
    keypoints = np.zeros((16, 2))
    for name, xy in joints.items():
        keypoints[NAMES[name]] = xy
    return keypoints


def _expected(points: np.ndarray, missing: set) -> np.ndarray:
    """The figure's lit pixels ``(S, S)`` by the rules: each kept limb a 1 px 8-connected
    line between the rounded ends, then the filled head of truncated centre and radius."""
    left_out = {tuple(sorted((NAMES[a], NAMES[b]))) for a, b in missing}
    image = np.zeros((S, S), np.uint8)
    ends = np.round(points).astype(int)
    for a, b in LIMBS:
        if tuple(sorted((a, b))) not in left_out:
            cv2.line(image, tuple(map(int, ends[a])), tuple(map(int, ends[b])), 1, 1)
    neck, top = points[8], points[9]
    cv2.circle(image, (int((neck[0] + top[0]) / 2), int((neck[1] + top[1]) / 2)),
               int(np.hypot(*(neck - top)) / 2), 1, -1)
    return image.astype(bool)


def _drawn(points: np.ndarray, style: str) -> np.ndarray:
    image = np.zeros((S, S, 3), np.uint8)
    draw_stickman_class(image, points, (255, 255, 255), line_thickness(S), style)
    return image.any(axis=2)


def _bank(tmp_path, poses: list[np.ndarray]):
    """A pose bank file of the hand-made poses, repeated to fill one 64-image chunk."""
    path = tmp_path / "poses.npy"
    np.save(path, np.array([poses[i % len(poses)] for i in range(64)]))
    return str(path)


@pytest.mark.parametrize("case", CASES)
def test_2021_leaves_out_every_limb_at_the_leftmost_or_topmost_joint(case):
    joints, missing = CASES[case]
    points = class_stretch(_pose(joints)[None], S)[0]
    np.testing.assert_array_equal(points, _pose(joints))        # [0, S]: unchanged
    assert np.array_equal(_drawn(points, "class"), _expected(points, missing))


@pytest.mark.parametrize("case", CASES)
def test_2022_draws_every_limb_in_0_to_s_minus_1(case):
    joints, _ = CASES[case]
    points = class_stretch(_pose(joints)[None], S - 1)[0]
    raw = _pose(joints)
    formula = (raw - raw.min(axis=0)) / (raw.max(axis=0) - raw.min(axis=0)) * (S - 1)
    np.testing.assert_array_equal(points, formula)
    assert np.array_equal(_drawn(points, "class-2022"), _expected(points, set()))


def test_a_joint_at_x_equal_s_is_past_the_border_and_labelled_s(tmp_path):
    raw = _pose(STANDING) * 3 + 7                # any units: the stretch maps to [0, S]
    bank = _bank(tmp_path, [raw])
    for style, last in (("class", S), ("class-2022", S - 1)):
        config = StickmanConfig(size=S, style=style, poses=bank, pose_order="in_order",
                                labels="person")
        images, keypoints, _ = StickmanGenerator(config, seed=0).chunk(0)
        left_wrist, right_ankle = keypoints[0, NAMES["l_wrist"]], keypoints[0, NAMES["r_ankle"]]
        assert left_wrist[0] == last and right_ankle[1] == last
        lit = images[0].any(axis=2)
        # the forearm reaches the wrist at column S (2021: clipped to the frame's last
        # column, S - 1) or S - 1 (2022)
        assert lit[20:26, S - 1].any()
        expected = _expected(class_stretch(raw[None], last)[0],
                             CASES["wrist leftmost, head top topmost"][1]
                             if style == "class" else set())
        assert np.array_equal(lit, expected)
        # labels: the stretched values truncated, as the class wrote them into int64
        np.testing.assert_array_equal(keypoints[0], np.trunc(class_stretch(raw[None], last)[0]))


def test_the_generator_draws_each_version_from_the_same_poses_and_noise(tmp_path):
    poses = [_pose(joints) * 2 for joints, _ in CASES.values()]
    bank = _bank(tmp_path, poses)
    settings = dict(size=S, poses=bank, pose_order="in_order", labels="person",
                    circles=0.3, squares=0.2)
    old = StickmanGenerator(StickmanConfig(style="class", **settings), seed=4).chunk(0)
    new = StickmanGenerator(StickmanConfig(style="class-2022", **settings), seed=4).chunk(0)
    assert not np.array_equal(old[0], new[0])
    assert old[1].max() == S and new[1].max() == S - 1
    for index, (joints, missing) in enumerate(CASES.values()):
        for (images, _, _), style in ((old, "class"), (new, "class-2022")):
            blank = StickmanConfig(style=style, **{**settings, "circles": 0, "squares": 0})
            alone = StickmanGenerator(blank, seed=4).chunk(0)[0][index].any(axis=2)
            points = class_stretch(poses[index][None], S if style == "class" else S - 1)[0]
            assert np.array_equal(alone, _expected(points, missing if style == "class"
                                                   else set()))


def test_2021_training_batches_share_one_frame(tmp_path):
    small, large = _pose(STANDING) * 0.25, _pose(STANDING) * 0.5 + 40   # x 0..16, 40..72
    together = class_stretch(np.stack([small, large]), S, group=2)
    # one min and max per axis over both: the small figure keeps a quarter of the frame
    assert together[..., 0].min() == 0 and together[..., 0].max() == S
    np.testing.assert_allclose(together[0, :, 0].max(), 16 / 72 * S)
    np.testing.assert_allclose(together[1, :, 0].min(), 40 / 72 * S)
    alone = class_stretch(np.stack([small, large]), S, group=1)
    assert (alone[..., 0].min(axis=1) == 0).all() and (alone[..., 0].max(axis=1) == S).all()
    bank = _bank(tmp_path, [small, large])
    config = StickmanConfig(size=S, style="class", poses=bank, pose_order="in_order",
                            labels="person", stretch_group=64)
    _, keypoints, _ = StickmanGenerator(config, seed=0).chunk(0)
    np.testing.assert_array_equal(keypoints, np.trunc(class_stretch(
        np.array([small, large] * 32), S, group=64)))
    assert keypoints[0::2].max() < S / 4                     # the small figures stay small
    config = StickmanConfig(size=S, style="class", poses=bank, pose_order="in_order",
                            labels="person", stretch_group=2)
    _, keypoints, _ = StickmanGenerator(config, seed=0).chunk(0)
    np.testing.assert_array_equal(keypoints[:2], np.trunc(together))


@pytest.mark.parametrize("settings, message", [
    (dict(style="class-2022", stretch_group=64), "needs style 'class'"),
    (dict(style="stickpose", margin=0.0, stretch_group=2), "needs style 'class'"),
    (dict(style="class", stretch_group=3), "divides 64"),
    (dict(style="class", stretch_group=0), "divides 64"),
    (dict(style="class", stretch_group=True), "divides 64"),
    (dict(style="class-2022", margin=0.05), "class-2022 style stretches"),
])
def test_bad_class_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        StickmanConfig(**settings)
