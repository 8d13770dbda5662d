import numpy as np

from stickpose.codecs.handedness import CHAINS, Handedness
from stickpose.data.poses import ProceduralPoses
from stickpose.skeleton import observer_centric


def _labelled(seed, count):
    """Poses whose person-centric labels follow a cue the pose shows (and its mirror image
    keeps, and so does stretching to the frame): the arms and legs swap sides when the
    wrists are, on average, above the thorax."""
    observer = observer_centric(ProceduralPoses().sample(np.random.default_rng(seed), count))
    away = observer[:, [10, 15], 1].mean(axis=1) < observer[:, 7, 1]
    person = observer.copy()
    for right, left in CHAINS["arms"] + CHAINS["legs"]:
        person[away, right], person[away, left] = observer[away, left], observer[away, right]
    return person, away


def test_learns_person_centric_labels_from_a_cue_in_the_pose(tmp_path):
    person, _ = _labelled(0, 1500)
    handedness = Handedness.fit(person, iterations=100)
    handedness.save(tmp_path / "handedness.joblib")
    loaded = Handedness.load(tmp_path / "handedness.joblib")
    test, away = _labelled(1, 400)
    predicted = loaded.apply(observer_centric(test))
    correct = (predicted == test).all(axis=(1, 2))
    # without the classifier, only the figures facing the camera are right
    baseline = (observer_centric(test) == test).all(axis=(1, 2)).mean()
    assert baseline == 1 - away.mean() and away.mean() > 0.1
    assert correct.mean() > 0.93 and correct.mean() > baseline + 0.1
    probability = loaded.swap_probability(test)
    assert ((probability["arms"] > 0.5) == away).mean() > 0.9


def test_order_permutes_scores_with_keypoints():
    person, _ = _labelled(2, 600)
    handedness = Handedness.fit(person, iterations=30)
    test, _ = _labelled(3, 50)
    shuffled = observer_centric(test)[:, :, ::-1].copy()        # any convention as input
    order = handedness.order(shuffled)
    assert sorted(order[0].tolist()) == list(range(16))
    np.testing.assert_array_equal(handedness.apply(shuffled),
                                  np.take_along_axis(shuffled, order[..., None], axis=1))
    # the result does not depend on the convention the keypoints came in
    np.testing.assert_array_equal(handedness.apply(test), handedness.apply(observer_centric(test)))
