"""Person-centric left/right from a stick figure's pose: the handedness classifier.

A stick figure carries no cue of its front or back, so a keypoint model learns the
observer-centric labels (``skeleton.observer_centric``): the arm and leg on the image's left
are 'right'. Person-centric labels (MPII's, the class's) differ from those when the person
faces away, on about a fifth of the joints of the class's test poses. The pose itself often
tells which way a person faces (how knees and elbows bend, where the head leans), so two
gradient-boosted classifiers (scikit-learn), fitted on a bank's person-centric training
poses, decide per figure whether its arms and whether its legs swap sides. Under the class's
L1 score the best guess for each chain is the likelier labelling (the median of a two-point
distribution), so the decision is a hard one.

Saved in a run as the fitted trees' numbers alone (a ``.npz`` of plain arrays, read without
unpickling: loading a classifier someone hands you runs no code), and predicted from them in
NumPy, exactly as scikit-learn predicts (the same sums in the same order: identical
probabilities). Fitting takes about 30 s on two idle cores (the class's 6,696 poses and
their mirror images, 2 x 400 trees), and many times that with a thread on a core another
process keeps busy (scikit-learn's OpenMP threads wait on each other), so it fits on the
cores that are idle (``_idle_cores``). The fit is a pure function of its poses, seed and
rounds, so ``fitted`` keeps each one in a cache (``cache_folder``): a bank is fitted once
per machine, not once per run.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import StickposeError
from ..files import write_atomic
from ..skeleton import FLIP_INDEX, LIMBS, observer_centric

CHAINS = {"arms": ((10, 15), (11, 14), (12, 13)), "legs": ((0, 5), (1, 4), (2, 3))}
ROOTS = {"arms": 12, "legs": 2}
ITERATIONS = 400                  # boosting rounds per chain
FORMAT = 1                        # the saved file's layout (``save``); bump on any change
#: bump when the fit or its features change: the cache must not return an older fit
FIT_VERSION = 1
CACHE_ENVIRONMENT = "STICKPOSE_CACHE"
_BLOCK = 4096                     # poses predicted at a time (bounds the node arrays)


class HandednessError(StickposeError):
    """A handedness classifier file that cannot be read or is not one."""


def features(keypoints: np.ndarray) -> np.ndarray:
    """``(n, 16, 2)`` observer-centric poses -> ``(n, F)`` features: the pose stretched to
    the unit box, every joint-to-joint offset, and each limb's direction (sin, cos)."""
    keypoints = np.asarray(keypoints, np.float64)
    low = keypoints.min(axis=1, keepdims=True)
    extent = np.maximum(keypoints.max(axis=1, keepdims=True) - low, 1e-9)
    unit = (keypoints - low) / extent
    n = len(unit)
    offsets = (unit[:, :, None] - unit[:, None, :]).reshape(n, -1)
    limbs = np.stack([unit[:, b] - unit[:, a] for a, b in LIMBS], axis=1)
    angles = np.arctan2(limbs[..., 1], limbs[..., 0])
    return np.concatenate([unit.reshape(n, -1), offsets, np.sin(angles), np.cos(angles)], 1)


def _mirror(keypoints: np.ndarray) -> np.ndarray:
    """The poses seen in a mirror (x negated), labels swapped so the convention holds."""
    mirrored = np.array(keypoints, np.float64, copy=True)
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored[:, list(FLIP_INDEX)]


@lru_cache(maxsize=None)
def feature_count() -> int:
    """F, the number of ``features`` a pose has."""
    return features(np.zeros((1, len(FLIP_INDEX), 2))).shape[1]


@dataclass(frozen=True, eq=False)
class Trees:
    """One chain's boosted trees, fitted by scikit-learn, as plain arrays: every tree's
    nodes one after the other (tree ``t`` is nodes ``start[t]:start[t + 1]``, its root
    first; children are node indices over all trees). A split node sends a pose left when
    its feature is <= the threshold (NaN: where ``missing_left`` says)."""

    baseline: float            # raw prediction (log-odds) before the first tree
    start: np.ndarray          # (T + 1,) int64
    feature: np.ndarray        # (N,) int64, the feature a split node reads
    threshold: np.ndarray      # (N,) float64
    missing_left: np.ndarray   # (N,) bool
    left: np.ndarray           # (N,) int64
    right: np.ndarray          # (N,) int64
    leaf: np.ndarray           # (N,) bool
    value: np.ndarray          # (N,) float64, a leaf's raw value

    ARRAYS = {"start": np.int64, "feature": np.int64, "threshold": np.float64,
              "missing_left": np.bool_, "left": np.int64, "right": np.int64,
              "leaf": np.bool_, "value": np.float64}

    @classmethod
    def from_sklearn(cls, model) -> "Trees":
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` (numeric
        features only, as ``Handedness.fit`` makes them)."""
        nodes = [predictors[0].nodes for predictors in model._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise HandednessError("categorical splits cannot be saved as handedness trees")
        sizes = np.array([len(n) for n in nodes], np.int64)
        start = np.concatenate([[0], np.cumsum(sizes)])
        offset = np.repeat(start[:-1], sizes)
        joined = np.concatenate(nodes)
        leaf = joined["is_leaf"].astype(bool)
        return cls(float(np.asarray(model._baseline_prediction).reshape(-1)[0]), start,
                   np.where(leaf, 0, joined["feature_idx"]).astype(np.int64),
                   joined["num_threshold"].astype(np.float64),
                   joined["missing_go_to_left"].astype(bool),
                   np.where(leaf, 0, joined["left"].astype(np.int64) + offset),
                   np.where(leaf, 0, joined["right"].astype(np.int64) + offset),
                   leaf, joined["value"].astype(np.float64))

    def check(self, where: str) -> None:
        """Raise ``HandednessError`` (naming ``where``) unless the arrays make trees that
        ``raw`` can walk: consistent lengths, every child inside its own tree and after
        its parent (so that every walk ends at a leaf), features that exist."""
        count = len(self.leaf)
        problem = None
        if any(getattr(self, name).shape != (count,) for name in self.ARRAYS if name != "start"):
            problem = "its node arrays differ in length"
        elif (len(self.start) < 2 or self.start[0] != 0 or self.start[-1] != count
              or (np.diff(self.start) < 1).any()):
            problem = "its tree boundaries do not cover its nodes"
        elif not np.isfinite(self.baseline) or not np.isfinite(self.value[self.leaf]).all():
            problem = "it has leaf values that are not finite numbers"
        else:
            tree = np.repeat(np.arange(len(self.start) - 1), np.diff(self.start))
            split = ~self.leaf
            index, end = np.arange(count)[split], self.start[tree + 1][split]
            left, right = self.left[split], self.right[split]
            if not ((left > index) & (left < end) & (right > index) & (right < end)).all():
                problem = "a split node's child lies outside its tree or before it"
            elif ((self.feature[split] < 0) | (self.feature[split] >= feature_count())).any():
                problem = f"a split node reads a feature outside 0-{feature_count() - 1}"
            elif np.isnan(self.threshold[split]).any():
                problem = "a split node's threshold is not a number"
        if problem:
            raise HandednessError(f"{where} is not a usable handedness classifier: {problem}")

    def raw(self, X: np.ndarray) -> np.ndarray:
        """``(n, F)`` features -> ``(n,)`` raw predictions (log-odds of a swap): the
        baseline plus each tree's leaf, added in tree order as scikit-learn adds them."""
        X = np.asarray(X, np.float64)
        roots = self.start[:-1]
        out = np.zeros(len(X))
        out += self.baseline
        for low in range(0, len(X), _BLOCK):
            rows = X[low:low + _BLOCK]
            node = np.repeat(roots[None], len(rows), axis=0)
            at = np.arange(len(rows))[:, None]
            for _ in range(int(np.diff(self.start).max())):   # children come after parents
                split = ~self.leaf[node]
                if not split.any():
                    break
                x = rows[at, self.feature[node]]
                go_left = np.where(np.isnan(x), self.missing_left[node],
                                   x <= self.threshold[node])
                node = np.where(split, np.where(go_left, self.left[node], self.right[node]),
                                node)
            values = self.value[node]
            block = out[low:low + _BLOCK]
            for tree in range(values.shape[1]):
                block += values[:, tree]
        return out


class Handedness:
    """Observer-centric keypoints -> person-centric, one set of trees per limb chain."""

    def __init__(self, trees: dict[str, Trees]):
        self.trees = trees

    @staticmethod
    def fit_classifiers(person: np.ndarray, seed: int = 0,
                        iterations: int = ITERATIONS) -> dict:
        """``{chain: HistGradientBoostingClassifier}`` fitted on person-centric poses
        ``(n, 16, 2)`` (any units, y down) and their mirror images (a mirrored person keeps
        the side it faces); ``iterations`` boosting rounds."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        person = np.concatenate([person, _mirror(person)])
        observer = observer_centric(person)
        X = features(observer)
        models = {}
        with threadpool_limits(limits=_idle_cores(), user_api="openmp"):
            for chain, root in ROOTS.items():
                swapped = (observer[:, root] != person[:, root]).any(axis=-1)
                models[chain] = HistGradientBoostingClassifier(
                    max_iter=iterations, learning_rate=0.05, random_state=seed).fit(X, swapped)
        return models

    @classmethod
    def from_classifiers(cls, models: dict) -> "Handedness":
        """The fitted scikit-learn classifiers ``{chain: model}`` as trees."""
        return cls({chain: Trees.from_sklearn(model) for chain, model in models.items()})

    @classmethod
    def fit(cls, person: np.ndarray, seed: int = 0,
            iterations: int = ITERATIONS) -> "Handedness":
        """Fit on person-centric poses ``(n, 16, 2)`` (see ``fit_classifiers``)."""
        return cls.from_classifiers(cls.fit_classifiers(person, seed, iterations))

    @classmethod
    def fitted(cls, person: np.ndarray, seed: int = 0, iterations: int = ITERATIONS,
               cache: Path | None = None) -> "Handedness":
        """``fit``, or the identical classifier fitted before on the same poses with the
        same seed and rounds (and the same scikit-learn and NumPy), read from folder
        ``cache`` (default ``cache_folder()``). A cached file that cannot be read is fitted
        again and replaced; a cache that cannot be written is passed over."""
        folder = cache if cache is not None else cache_folder()
        if folder is None:
            return cls.fit(person, seed, iterations)
        path = Path(folder) / "handedness" / f"{fit_key(person, seed, iterations)}.npz"
        if path.is_file():
            try:
                return cls.load(path)
            except HandednessError:
                pass                                  # damaged: fitted again, replaced
        handedness = cls.fit(person, seed, iterations)
        try:
            handedness.save(path)
        except OSError:
            pass
        return handedness

    def swap_probability(self, keypoints: np.ndarray) -> dict[str, np.ndarray]:
        """``{chain: (n,)}`` probability that the person-centric labels swap the chain."""
        from scipy.special import expit               # as scikit-learn maps log-odds

        X = features(observer_centric(keypoints))
        return {chain: expit(trees.raw(X)) for chain, trees in self.trees.items()}

    def order(self, keypoints: np.ndarray) -> np.ndarray:
        """``(n, 16)`` joint indices that put keypoints ``(n, 16, 2)`` (any convention) in
        their likelier person-centric labelling: observer-centric first, then each chain
        swapped where its swap probability is > 0.5. Index per-joint scores with it too."""
        keypoints = np.asarray(keypoints)
        order = np.tile(np.arange(len(FLIP_INDEX)), (len(keypoints), 1))
        observer = observer_centric(keypoints)
        probability = self.swap_probability(observer)
        for chain, root in ROOTS.items():
            # observer_centric swapped the chain where its right root lies right of its left
            seen = keypoints[:, root, 0] > keypoints[:, FLIP_INDEX[root], 0]
            swap = seen ^ (probability[chain] > 0.5)
            for right, left in CHAINS[chain]:
                order[swap, right], order[swap, left] = left, right
        return order

    def apply(self, keypoints: np.ndarray) -> np.ndarray:
        """Keypoints ``(n, 16, 2)`` in any convention -> the likelier person-centric
        labelling (see ``order``)."""
        keypoints = np.asarray(keypoints)
        return np.take_along_axis(keypoints, self.order(keypoints)[..., None], axis=1)

    def save(self, path: Path) -> None:
        """Write the trees to ``path``, atomically: a ``.npz`` of plain numeric arrays
        (``FORMAT``; ``load`` reads it without unpickling anything)."""
        import io

        arrays = {"format": np.array(FORMAT), "features": np.array(feature_count()),
                  "chains": np.array(list(self.trees))}
        for chain, trees in self.trees.items():
            arrays[f"{chain}_baseline"] = np.array(trees.baseline, np.float64)
            for name, dtype in Trees.ARRAYS.items():
                arrays[f"{chain}_{name}"] = np.asarray(getattr(trees, name), dtype)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        write_atomic(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Handedness":
        """Read trees written by ``save``. Nothing in the file is executed (no pickle is
        read: an older stickpose's ``handedness.joblib`` is refused), and the trees are
        checked before use; ``HandednessError`` names the file and what is wrong."""
        path = Path(path)
        arrays = _read_npz(path)
        where = f"handedness classifier {path}"
        if "format" not in arrays or "chains" not in arrays:
            raise HandednessError(f"{where} is a NumPy archive but not a handedness "
                                  "classifier (no format or chains in it)")
        if arrays["format"].shape != () or arrays["format"].dtype.kind not in "iu" \
                or int(arrays["format"]) != FORMAT:
            raise HandednessError(f"{where} has layout {arrays['format']!r}, but this "
                                  f"stickpose reads layout {FORMAT}; fit it again with this "
                                  "stickpose")
        if arrays.get("features", np.array(-1)).tolist() != feature_count():
            raise HandednessError(f"{where} reads {arrays.get('features')!r} features per "
                                  f"pose, but this stickpose computes {feature_count()}; fit "
                                  "it again with this stickpose")
        chains = arrays["chains"].tolist() if arrays["chains"].dtype.kind == "U" else None
        if not isinstance(chains, list) or sorted(chains) != sorted(ROOTS):
            raise HandednessError(f"{where} holds chains {arrays['chains'].tolist()!r}; "
                                  f"expected {', '.join(ROOTS)}")
        trees = {}
        for chain in chains:
            values = {}
            for name, dtype in {"baseline": np.float64, **Trees.ARRAYS}.items():
                value = arrays.get(f"{chain}_{name}")
                kinds = {np.int64: "iu", np.float64: "fiu", np.bool_: "b"}[dtype]
                if (value is None or value.dtype.kind not in kinds
                        or value.ndim != (0 if name == "baseline" else 1)):
                    raise HandednessError(f"{where} is not a usable handedness classifier: "
                                          f"{chain}_{name} is missing or not a "
                                          f"{'number' if name == 'baseline' else 'vector'} "
                                          f"of {np.dtype(dtype).name}")
                values[name] = float(value) if name == "baseline" else value.astype(dtype)
            trees[chain] = Trees(**values)
            trees[chain].check(where)
        return cls(trees)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``.npz`` file ``path``, never unpickling; ``HandednessError`` naming
    the file for one that is missing, damaged, a pickle or not an archive of arrays."""
    what = f"cannot read handedness classifier {path}"
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise HandednessError(f"{what}: there is no such file") from None
    except EOFError:
        raise HandednessError(f"{what}: the file is empty") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        reason = ("it is a pickle (such as an older stickpose's handedness.joblib), which "
                  "stickpose does not load: loading one can run any code"
                  if "pickle" in str(error) else str(error).splitlines()[0] or "cut short")
        raise HandednessError(f"{what}: {reason}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise HandednessError(f"{what}: it is a single NumPy array, not a classifier's "
                              ".npz archive")
    try:
        with data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        reason = ("it holds Python objects (pickles), which stickpose does not load"
                  if "pickle" in str(error) else str(error).splitlines()[0] or "cut short")
        raise HandednessError(f"{what}: {reason}") from None


def _idle_cores(seconds: float = 0.2) -> int | None:
    """The threads to fit with: the cores of this process that were idle over the last
    ``seconds`` (from ``/proc/stat``), at least 1; None (scikit-learn's choice, every core)
    where that cannot be read. The boosting's threads wait for one another at every node of
    every tree, so one that shares its core with another busy process stalls them all: on 2
    cores beside one busy process, the class's fit took 116 s on 2 threads and 59 s on 1
    (35 s and 50 s on idle cores). The trees are the same for any count (checked)."""
    import time

    def ticks():
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return values[3] + values[4], sum(values[:8])      # idle + iowait, all but guests
    try:
        idle, total = ticks()
        time.sleep(seconds)
        idle_after, total_after = ticks()
    except (OSError, ValueError, IndexError):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    free = (idle_after - idle) / max(total_after - total, 1) * (os.cpu_count() or 1)
    return int(min(max(round(free), 1), cores or 1))


def cache_folder() -> Path | None:
    """Where ``Handedness.fitted`` keeps fitted classifiers: ``$STICKPOSE_CACHE`` (set but
    empty: nowhere), else ``$XDG_CACHE_HOME/stickpose``, else ``~/.cache/stickpose``."""
    value = os.environ.get(CACHE_ENVIRONMENT)
    if value is not None:
        return Path(value).expanduser() if value else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stickpose"


def fit_key(person: np.ndarray, seed: int, iterations: int) -> str:
    """What decides a fit, as a short hash: the poses' values, the seed, the rounds, and
    the versions of the fit (``FIT_VERSION``), the file layout, scikit-learn and NumPy.
    (The fit does not depend on the number of threads: checked, identical trees.)"""
    import sklearn

    person = np.ascontiguousarray(person, np.float64)
    digest = hashlib.sha256(repr((FIT_VERSION, FORMAT, sklearn.__version__, np.__version__,
                                  int(seed), int(iterations), person.shape)).encode())
    digest.update(person.tobytes())
    return digest.hexdigest()[:32]
