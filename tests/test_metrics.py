import numpy as np
import pytest

from stickpose import metrics
from stickpose.errors import StickposeError
from stickpose.skeleton import FLIP_INDEX, NUM_JOINTS


def _truth():
    truth = np.zeros((2, 16, 2))
    truth[:, :, 0] = np.linspace(0, 30, 16)
    truth[:, :, 1] = np.linspace(0, 40, 16)        # bounding-box diagonal 50
    return truth


def test_class_score_by_hand():
    truth = _truth() + 1                            # no zero coordinate
    predicted = truth.copy()
    predicted[0, 0, 0] += 10                        # x divided by the height: 10 / 200
    predicted[1, 5, 1] += 20                        # y divided by the width: 20 / 100
    assert metrics.class_score(predicted, truth, 100, 200) == pytest.approx((0.05 + 0.2) / 2)
    np.testing.assert_allclose(metrics.class_scores(predicted, truth, 100, 200), [0.05, 0.2])


def test_class_score_skips_zero_coordinates_as_the_class_did():
    truth = np.full((1, 16, 2), 10.0)
    truth[0, 0] = (0.0, 5.0)                        # the leftmost joint: x = 0
    truth[0, 1] = (7.0, 0.0)                        # the topmost joint: y = 0
    predicted = truth + 2.0                         # every coordinate 2 px off
    # 30 coordinates counted (the two zeros skipped), each 2 / 224
    assert metrics.class_score(predicted, truth, 224, 224) == pytest.approx(30 * 2 / 224)
    truth[0, 2] = (-3.0, 10.0)                      # a negative label counts for nothing too
    assert metrics.class_score(predicted, truth, 224, 224) == pytest.approx(29 * 2 / 224)


def test_flip_tolerant_score_forgives_a_left_right_swap_per_image():
    truth = _truth() + 1
    predicted = truth.copy()
    predicted[0] = truth[0][list(FLIP_INDEX)]       # image 0: left and right exchanged
    predicted[1, 7, 0] += 5                         # image 1: thorax 5 px off in x
    swapped = metrics.class_scores(predicted, truth, 50, 50)[0]
    assert swapped > 0
    assert metrics.class_score(predicted, truth, 50, 50) == pytest.approx((swapped + 0.1) / 2)
    assert metrics.flip_tolerant_score(predicted, truth, 50, 50) == pytest.approx(0.1 / 2)
    assert metrics.swap_rate(predicted, truth) == pytest.approx(0.5)


def test_pck_and_mpjpe_by_hand():
    truth = _truth()
    predicted = truth.copy()
    predicted[0, :4, 0] += 7.4                      # within 0.15 * 50 = 7.5
    predicted[0, 4:6, 0] += 7.6                     # outside
    assert metrics.pck(predicted, truth, 0.15) == pytest.approx(30 / 32)
    assert metrics.mpjpe(predicted, truth) == pytest.approx((4 * 7.4 + 2 * 7.6) / 32)
    np.testing.assert_allclose(metrics.bbox_diagonal(truth), [50, 50])


def test_mse_is_squared_euclidean_per_joint():
    truth = _truth()
    predicted = truth.copy()
    predicted[0, 0] += [3, 4]                       # 5 px -> 25 px²
    assert metrics.mse(predicted, truth) == pytest.approx(25 / 32)


def test_pck_normalisers_by_hand():
    truth = np.zeros((1, 16, 2))
    truth[0, 13] = [0, 0]                           # left shoulder
    truth[0, 2] = [0, 40]                           # right hip: torso 40
    truth[0, 8] = [100, 0]
    truth[0, 9] = [100, 10]                         # head segment 10
    np.testing.assert_allclose(metrics.reference_length(truth, "torso"), [40])
    np.testing.assert_allclose(metrics.reference_length(truth, "head"), [10])
    predicted = truth.copy()
    predicted[0, 0, 0] += 6                         # > 0.5 x head, < 0.2 x torso
    assert metrics.pck(predicted, truth, 0.2, "torso") == 1.0
    assert metrics.pck(predicted, truth, 0.5, "head") == pytest.approx(15 / 16)
    per_joint = metrics.pck_per_joint(predicted, truth, 0.5, "head")
    assert per_joint[0] == 0 and per_joint[1:].min() == 1
    with pytest.raises(StickposeError, match="unknown PCK normaliser 'hips'; known: bbox"):
        metrics.pck(predicted, truth, 0.2, "hips")


def test_auc_by_hand():
    truth = _truth()                                # bounding-box diagonal 50
    predicted = truth.copy()
    predicted[:, :, 0] += 5                         # every joint 0.1 x diagonal away
    # PCK is 0 below threshold 0.1 and 1 from there: the area over [0, 0.2] is a half
    assert metrics.pck_auc(predicted, truth, 0.2, steps=201) == pytest.approx(0.5, abs=0.01)
    assert metrics.pck_auc(truth, truth, 0.2) == pytest.approx(1.0)


def test_swap_rate_counts_left_right_confusions():
    truth = np.zeros((1, 16, 2))
    truth[0, :, 0] = np.arange(16) * 10
    predicted = truth.copy()
    predicted[0, 0], predicted[0, 5] = truth[0, 5], truth[0, 0]   # ankles swapped
    predicted[0, 7] = truth[0, 8]                   # thorax is not a left/right joint
    assert metrics.swap_rate(predicted, truth) == pytest.approx(2 / 12)


def test_visibility_split():
    truth = _truth()
    predicted = truth.copy()
    predicted[0, 0, 0] += 10                        # an occluded joint, wrong
    visible = np.ones((2, 16), bool)
    visible[0, :2] = False
    split = metrics.split_by_visibility(predicted, truth, visible)
    assert split["pck_visible"] == 1.0 and split["pck_occluded"] == 0.5
    assert split["mse_occluded"] == pytest.approx(50) and split["joints_occluded"] == 2
    assert np.isnan(metrics.split_by_visibility(truth, truth, np.ones((2, 16), bool))
                    ["pck_occluded"])


def test_shape_mismatch_is_named():
    with pytest.raises(StickposeError, match=r"\(2, 14, 2\) and truth \(2, 16, 2\)"):
        metrics.mpjpe(np.zeros((2, 14, 2)), _truth())


def _lsp_truth():
    """One LSP pose (14 joints): torso reference |l_shoulder - r_hip| = 50."""
    truth = np.zeros((1, 14, 2))
    truth[0, :, 0] = np.arange(14) * 100                       # sticks far apart
    truth[0, 9] = [0, 0]                                        # l_shoulder
    truth[0, 2] = [30, 40]                                      # r_hip: 50 away
    return truth


def test_lsp_pck_by_hand():
    truth = _lsp_truth()
    predicted = truth.copy()
    predicted[0, 0, 0] += 10                                    # exactly 0.2 x 50: counts
    predicted[0, 5, 0] += 10.001                                # just over: a miss (l_ankle)
    predicted[0, 12, 1] += 30                                   # neck missed
    table = metrics.lsp_pck(predicted, truth)
    assert table["Ankle"] == 50.0 and table["Head"] == 50.0 and table["Knee"] == 100.0
    assert table["Mean"] == pytest.approx(100 * 12 / 14)
    assert metrics.lsp_pck(truth, truth)["AUC"] == pytest.approx(100.0)
    # all joints off by 0.1 of the torso: PCK is 0 up to threshold 0.09, 100 from 0.1 on
    shifted = truth + [5.0, 0.0]
    assert metrics.lsp_pck(shifted, truth)["AUC"] == pytest.approx(100 * (0.5 + 0.025))
    # a zero-length torso makes every joint a miss, as in the MATLAB code (inf)
    degenerate = truth.copy()
    degenerate[0, 2] = degenerate[0, 9]
    assert metrics.lsp_pck(degenerate, degenerate)["Mean"] == 0.0


def test_lsp_strict_pcp_by_hand():
    truth = _lsp_truth()
    truth[0, 0], truth[0, 1] = [0, 100], [0, 140]               # right lower leg, length 40
    predicted = truth.copy()
    predicted[0, 0, 0] += 20                                    # one end at exactly 0.5 x 40
    table = metrics.lsp_pcp(predicted, truth)
    assert table["Lower leg"] == 100.0
    predicted[0, 1, 0] += 20.5                                  # the other end just outside
    table = metrics.lsp_pcp(predicted, truth)
    # the knee is 20.5 off: the lower leg (40 long) fails, the upper leg (104 long) holds
    assert table["Lower leg"] == 50.0 and table["Upper leg"] == 100.0
    assert table["Mean"] == pytest.approx(90.0)                 # 9 of 10 sticks
    # the torso joins the hip and shoulder midpoints: moving both hips alike moves it
    moved = truth.copy()
    moved[0, [2, 3], 1] += 1000
    assert metrics.lsp_pcp(moved, truth)["Torso"] == 0.0


def test_pck_is_not_a_measured_zero_where_the_reference_length_is_zero():
    """One labelled joint per person (a COCO set can have that) has a bounding-box diagonal
    of 0: such an image is not judged, and a set of only such images has PCK n/a."""
    import pandas as pd

    from stickpose.evaluate import markdown

    one = np.full((3, NUM_JOINTS, 2), np.nan)
    one[:, 0] = [[10, 10], [20, 20], [30, 30]]
    assert np.isnan(metrics.pck(one + 50, one))
    two = np.full((1, NUM_JOINTS, 2), np.nan)
    two[0, :2] = [[0, 0], [30, 40]]                              # diagonal 50
    both = np.concatenate([one, two])
    predicted = both.copy()
    predicted[3, 1] += [3, 4]                                    # 5 px off: within 0.15 x 50
    assert metrics.pck(predicted, both) == 1.0                   # the 1-joint images skipped
    assert np.isnan(metrics.pck_per_joint(one, one)).all()
    table = markdown(pd.DataFrame([{"decoder": "quarter", "pck": metrics.pck(one, one),
                                    "mpjpe": 1.0}]))
    assert "n/a" in table and "nan" not in table
