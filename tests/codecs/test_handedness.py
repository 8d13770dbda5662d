import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from stickpose.codecs import handedness as module
from stickpose.codecs.handedness import CHAINS, Handedness, HandednessError, features
from stickpose.data.poses import ProceduralPoses
from stickpose.runs import RunDir, RunError, TrainConfig, load_handedness
from stickpose.skeleton import observer_centric
from tests.cli_helpers import fails_with, invoke, ok


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


@pytest.fixture(scope="module")
def fitted():
    """``(Handedness, {chain: scikit-learn model})`` of one small fit."""
    person, _ = _labelled(2, 600)
    models = Handedness.fit_classifiers(person, iterations=30)
    return Handedness.from_classifiers(models), models


class Runs(Exception):
    """Raised by unpickling ``_Payload``: a pickle's code ran."""


class _Payload:
    def __reduce__(self):
        return (_ran, ())


def _ran():
    raise Runs("unpickling executed code")


def test_learns_person_centric_labels_from_a_cue_in_the_pose(tmp_path):
    person, _ = _labelled(0, 1500)
    handedness = Handedness.fit(person, iterations=100)
    handedness.save(tmp_path / "handedness.npz")
    loaded = Handedness.load(tmp_path / "handedness.npz")
    test, away = _labelled(1, 400)
    predicted = loaded.apply(observer_centric(test))
    correct = (predicted == test).all(axis=(1, 2))
    # without the classifier, only the figures facing the camera are right
    baseline = (observer_centric(test) == test).all(axis=(1, 2)).mean()
    assert baseline == 1 - away.mean() and away.mean() > 0.1
    assert correct.mean() > 0.93 and correct.mean() > baseline + 0.1
    probability = loaded.swap_probability(test)
    assert ((probability["arms"] > 0.5) == away).mean() > 0.9


def test_order_permutes_scores_with_keypoints(fitted):
    handedness, _ = fitted
    test, _ = _labelled(3, 50)
    shuffled = observer_centric(test)[:, :, ::-1].copy()        # any convention as input
    order = handedness.order(shuffled)
    assert sorted(order[0].tolist()) == list(range(16))
    np.testing.assert_array_equal(handedness.apply(shuffled),
                                  np.take_along_axis(shuffled, order[..., None], axis=1))
    # the result does not depend on the convention the keypoints came in
    np.testing.assert_array_equal(handedness.apply(test), handedness.apply(observer_centric(test)))


def test_saved_trees_predict_exactly_as_scikit_learn(fitted, tmp_path, monkeypatch):
    handedness, models = fitted
    handedness.save(tmp_path / "h.npz")
    loaded = Handedness.load(tmp_path / "h.npz")
    test, _ = _labelled(4, 5000)               # more than one block of the NumPy walk
    monkeypatch.setattr(module, "_BLOCK", 1000)
    X = features(observer_centric(test))
    for ours in (handedness, loaded):
        probability = ours.swap_probability(test)
        for chain, model in models.items():   # the same bits, not merely close
            np.testing.assert_array_equal(probability[chain], model.predict_proba(X)[:, 1])
    # a plain archive: every array loads without pickles
    with np.load(tmp_path / "h.npz", allow_pickle=False) as data:
        assert {data[name].dtype.kind for name in data.files} <= set("biufU")


def test_loading_never_unpickles(fitted, tmp_path):
    with pytest.raises(Runs):                  # the payload does run code when unpickled
        pickle.loads(pickle.dumps(_Payload()))
    pickled = tmp_path / "handedness.joblib"   # what an older stickpose wrote
    pickled.write_bytes(pickle.dumps({"arms": _Payload()}))
    with pytest.raises(HandednessError, match="it is a pickle"):
        Handedness.load(pickled)
    handedness, _ = fitted                     # an archive with a pickled array inside
    handedness.save(tmp_path / "h.npz")
    with zipfile.ZipFile(tmp_path / "h.npz") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Payload()], dtype=object), allow_pickle=True)
    members["arms_value.npy"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "objects.npz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(HandednessError, match="Python objects"):
        Handedness.load(tmp_path / "objects.npz")


def _edited(handedness, tmp_path, **changes):
    """``handedness`` saved, with arrays of the archive replaced by ``changes``."""
    handedness.save(tmp_path / "h.npz")
    with np.load(tmp_path / "h.npz") as data:
        arrays = {name: data[name] for name in data.files}
    arrays.update(changes)
    np.savez(tmp_path / "edited.npz", **arrays)
    return tmp_path / "edited.npz"


def test_damaged_or_foreign_files_get_one_line(fitted, tmp_path):
    handedness, _ = fitted
    trees = handedness.trees["arms"]
    backwards = trees.left.copy()
    split = np.flatnonzero(~trees.leaf)[-1]
    backwards[split] = split                    # a walk that would never end
    (tmp_path / "empty.npz").write_bytes(b"")
    handedness.save(tmp_path / "whole.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:500])
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    cases = {
        tmp_path / "missing.npz": "no such file",
        tmp_path / "empty.npz": "empty",
        tmp_path / "cut.npz": "cannot read handedness classifier",
        tmp_path / "array.npy": "a single NumPy array",
        tmp_path / "other.npz": "not a handedness classifier",
        _edited(handedness, tmp_path, format=np.array(99)): "layout 99",
        _edited(handedness, tmp_path, features=np.array(7)): "computes",
        _edited(handedness, tmp_path, chains=np.array(["arms"])): "expected arms, legs",
        _edited(handedness, tmp_path, arms_left=backwards): "outside its tree or before it",
        _edited(handedness, tmp_path, arms_value=trees.value.astype(str)): "arms_value",
        _edited(handedness, tmp_path, legs_start=np.array([0, 5])): "tree boundaries",
    }
    for path, message in cases.items():
        with pytest.raises(HandednessError, match=message) as error:
            Handedness.load(path)
        assert "\n" not in str(error.value)


def test_fitted_is_cached_by_what_decides_the_fit(tmp_path, monkeypatch):
    person, _ = _labelled(5, 300)
    person = person.astype(np.float32)          # the same values as float64: the same fit
    first = Handedness.fitted(person, iterations=10, cache=tmp_path)
    files = list((tmp_path / "handedness").iterdir())
    assert len(files) == 1

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")
    monkeypatch.setattr(Handedness, "fit_classifiers", staticmethod(no_fit))
    again = Handedness.fitted(person.astype(np.float64), iterations=10, cache=tmp_path)
    test, _ = _labelled(6, 100)
    for chain, probability in first.swap_probability(test).items():
        np.testing.assert_array_equal(again.swap_probability(test)[chain], probability)
    for other in ({"seed": 1}, {"iterations": 11}):   # another fit is not the cached one
        with pytest.raises(AssertionError, match="fitted again"):
            Handedness.fitted(person, **{"iterations": 10, **other}, cache=tmp_path)
    with pytest.raises(AssertionError, match="fitted again"):
        Handedness.fitted(person[:-1], iterations=10, cache=tmp_path)
    monkeypatch.undo()
    files[0].write_bytes(b"damaged")            # fitted again and replaced
    Handedness.fitted(person, iterations=10, cache=tmp_path)
    Handedness.load(files[0])
    monkeypatch.setenv("STICKPOSE_CACHE", "")
    assert module.cache_folder() is None


def _class_run(folder, class_dir):
    """A run folder of the class suite as an older stickpose left it: its config and a
    pickled handedness classifier (no model is needed to refit the classifier)."""
    run = RunDir(folder)
    run.start(TrainConfig(suite="class", class_dir=str(class_dir), seed=3))
    (run / RunDir.HANDEDNESS_PICKLE).write_bytes(pickle.dumps({"arms": _Payload()}))
    return run


def test_an_older_pickled_classifier_is_refused_and_fitted_again(class_dir, tmp_path,
                                                                monkeypatch):
    run = _class_run(tmp_path / "old", class_dir)
    with pytest.raises(RunError, match="written by an older stickpose") as error:
        load_handedness(run.path)
    assert f"stickpose train-handedness {run.path}" in str(error.value)
    monkeypatch.setenv("STICKPOSE_CACHE", str(tmp_path / "cache"))   # not the session's
    real = Handedness.fit_classifiers            # a quick fit: 10 rounds
    monkeypatch.setattr(Handedness, "fit_classifiers", staticmethod(
        lambda person, seed=0, iterations=400: real(person, seed, 10)))
    output = ok(invoke("train-handedness", run.path))
    assert str(run / RunDir.HANDEDNESS) in output
    assert not (run / RunDir.HANDEDNESS_PICKLE).exists()
    refitted = load_handedness(run.path)
    from stickpose.data.stickman import StickmanGenerator
    from stickpose.data.suites import load_suite
    poses = StickmanGenerator(load_suite("class", class_dir).streams["train"].config, 0).poses
    expected = Handedness.fit(poses.poses, seed=3)
    test, _ = _labelled(7, 200)
    for chain, probability in expected.swap_probability(test).items():
        np.testing.assert_array_equal(refitted.swap_probability(test)[chain], probability)
    assert json.loads((run / RunDir.CONFIG).read_text())["seed"] == 3


def test_train_handedness_says_what_is_wrong(class_dir, tmp_path):
    fails_with(invoke("train-handedness", tmp_path / "nothing"), "does not exist")
    run = RunDir(tmp_path / "person")
    run.start(TrainConfig(suite="class", class_dir=str(class_dir), labels="person"))
    fails_with(invoke("train-handedness", run.path), "needs no handedness classifier")
    run = RunDir(tmp_path / "stickman")
    run.start(TrainConfig())
    fails_with(invoke("train-handedness", run.path), "needs no handedness classifier")
