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

Saved in a run as ``handedness.joblib``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..skeleton import FLIP_INDEX, LIMBS, observer_centric

CHAINS = {"arms": ((10, 15), (11, 14), (12, 13)), "legs": ((0, 5), (1, 4), (2, 3))}
ROOTS = {"arms": 12, "legs": 2}


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


class Handedness:
    """Observer-centric keypoints -> person-centric, one classifier per limb chain."""

    def __init__(self, models: dict):
        self.models = models

    @classmethod
    def fit(cls, person: np.ndarray, seed: int = 0, iterations: int = 400) -> "Handedness":
        """Fit on person-centric poses ``(n, 16, 2)`` (any units, y down), with their mirror
        images (a mirrored person keeps the side it faces); ``iterations`` boosting rounds."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        person = np.concatenate([person, _mirror(person)])
        observer = observer_centric(person)
        X = features(observer)
        models = {}
        for chain, root in ROOTS.items():
            swapped = (observer[:, root] != person[:, root]).any(axis=-1)
            models[chain] = HistGradientBoostingClassifier(
                max_iter=iterations, learning_rate=0.05, random_state=seed).fit(X, swapped)
        return cls(models)

    def swap_probability(self, keypoints: np.ndarray) -> dict[str, np.ndarray]:
        """``{chain: (n,)}`` probability that the person-centric labels swap the chain."""
        X = features(observer_centric(keypoints))
        return {chain: model.predict_proba(X)[:, 1] for chain, model in self.models.items()}

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
        """Write the classifiers to ``path`` (joblib, atomically)."""
        import io

        import joblib

        from ..files import write_atomic

        buffer = io.BytesIO()
        joblib.dump(self.models, buffer)
        write_atomic(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Handedness":
        """Read classifiers saved by ``save`` (a joblib pickle: load only your own runs)."""
        import joblib

        return cls(joblib.load(path))
