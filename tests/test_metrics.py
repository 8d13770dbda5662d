import numpy as np
import pytest

from stickpose import metrics


def _truth():
    truth = np.zeros((2, 16, 2))
    truth[:, :, 0] = np.linspace(0, 30, 16)
    truth[:, :, 1] = np.linspace(0, 40, 16)        # bounding-box diagonal 50
    return truth


def test_class_score_by_hand():
    truth = _truth()
    predicted = truth.copy()
    predicted[0, 0, 0] += 10                        # 10 / 100 in x
    predicted[1, 5, 1] += 20                        # 20 / 200 in y
    assert metrics.class_score(predicted, truth, 100, 200) == pytest.approx((0.1 + 0.1) / 2)


def test_pck_and_mpjpe_by_hand():
    truth = _truth()
    predicted = truth.copy()
    predicted[0, :4, 0] += 7.4                      # within 0.15 * 50 = 7.5
    predicted[0, 4:6, 0] += 7.6                     # outside
    assert metrics.pck(predicted, truth, 0.15) == pytest.approx(30 / 32)
    assert metrics.mpjpe(predicted, truth) == pytest.approx((4 * 7.4 + 2 * 7.6) / 32)
    np.testing.assert_allclose(metrics.bbox_diagonal(truth), [50, 50])
