"""How two sources of poses differ: per-pose features of the 2-D skeleton, their
distributions side by side, and a distance per feature.

Every feature is measured on the pose as drawn (2-D, any units, y down), so it sees what a
model sees: bone lengths relative to the torso (foreshortening included), the bend of the
elbows, knees, hips, shoulders and neck, the figure's aspect ratio and tilt, how many limbs
cross, and how unequal the left and right twins of a limb look. The distance is the
Wasserstein (earth mover's) distance between the two samples of a feature, divided by the
feature's spread in the reference so that features in degrees and in ratios compare.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..skeleton import LIMBS
from ..viz import figure_png

PELVIS, THORAX, UPPER_NECK, HEAD_TOP = 6, 7, 8, 9

#: feature name -> (what it measures, its unit)
FEATURES = {
    "upper_arm / torso": ("shoulder-elbow length over pelvis-thorax", "ratio"),
    "forearm / torso": ("elbow-wrist length over pelvis-thorax", "ratio"),
    "thigh / torso": ("hip-knee length over pelvis-thorax", "ratio"),
    "shin / torso": ("knee-ankle length over pelvis-thorax", "ratio"),
    "head / torso": ("upper neck-head top length over pelvis-thorax", "ratio"),
    "shoulder width / torso": ("shoulder-shoulder distance over pelvis-thorax", "ratio"),
    "hip width / torso": ("hip-hip distance over pelvis-thorax", "ratio"),
    "elbow angle": ("shoulder-elbow-wrist angle, 180 = straight", "degrees"),
    "knee angle": ("hip-knee-ankle angle, 180 = straight", "degrees"),
    "hip angle": ("thorax-pelvis line against the thigh, 180 = straight", "degrees"),
    "shoulder angle": ("pelvis-thorax line against the upper arm, 0 = arm along the trunk",
                       "degrees"),
    "neck angle": ("pelvis-thorax line against thorax-head top, 180 = straight", "degrees"),
    "trunk tilt": ("pelvis-thorax direction from image up, 0 = upright", "degrees"),
    "aspect ratio": ("log2 of bounding-box width over height", "log2"),
    "crossing limbs": ("pairs of limbs that cross each other", "count"),
    "arm foreshortening": ("shorter over longer of the two arms (upper arm + forearm)",
                           "ratio"),
    "leg foreshortening": ("shorter over longer of the two legs (thigh + shin)", "ratio"),
}

# (right, left) joint triples of the twin limbs: (root, middle, end)
_ARMS = ((12, 11, 10), (13, 14, 15))
_LEGS = ((2, 1, 0), (3, 4, 5))


def _length(poses, a, b):
    return np.linalg.norm(poses[:, a] - poses[:, b], axis=-1)


def _angle(u, v):
    """Angles in degrees between vectors ``(n, 2)``; NaN where one has no length."""
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    cosine = np.where(norms > 0, (u * v).sum(-1) / norms, np.nan)
    return np.degrees(np.arccos(np.clip(cosine, -1, 1)))


def _crossings(poses) -> np.ndarray:
    """Per pose, the number of limb pairs (sharing no joint) whose segments cross."""
    pairs = [(a, b) for i, a in enumerate(LIMBS) for b in LIMBS[i + 1:] if not set(a) & set(b)]
    count = np.zeros(len(poses), int)

    def side(p, q, r):          # sign of the turn p -> q -> r
        return np.sign((q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1])
                       - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0]))
    for (a, b), (c, d) in pairs:
        p, q, r, s = poses[:, a], poses[:, b], poses[:, c], poses[:, d]
        count += ((side(p, q, r) * side(p, q, s) < 0) & (side(r, s, p) * side(r, s, q) < 0))
    return count


def pose_features(poses: np.ndarray) -> pd.DataFrame:
    """One row per pose ``(n, 16, 2)``, one column per entry of ``FEATURES``. Each side's
    elbow, knee, hip and shoulder counts as a sample of its feature (both sides pooled),
    so those columns hold lists of two values; ``compare_features`` flattens them. A value
    that cannot be measured (a torso of no length, say) is NaN."""
    with np.errstate(all="ignore"):
        return _pose_features(np.asarray(poses, np.float64))


def _pose_features(poses: np.ndarray) -> pd.DataFrame:
    torso = _length(poses, PELVIS, THORAX)
    torso = np.where(torso > 0, torso, np.nan)
    trunk = poses[:, THORAX] - poses[:, PELVIS]
    columns = {}
    for name, pairs in (("upper_arm", ((12, 11), (13, 14))), ("forearm", ((11, 10), (14, 15))),
                        ("thigh", ((2, 1), (3, 4))), ("shin", ((1, 0), (4, 5)))):
        columns[f"{name} / torso"] = np.stack([_length(poses, a, b) / torso for a, b in pairs],
                                              axis=1)
    columns["head / torso"] = _length(poses, UPPER_NECK, HEAD_TOP) / torso
    columns["shoulder width / torso"] = _length(poses, 12, 13) / torso
    columns["hip width / torso"] = _length(poses, 2, 3) / torso
    columns["elbow angle"] = np.stack([_angle(poses[:, r] - poses[:, m], poses[:, e] - poses[:, m])
                                       for r, m, e in _ARMS], axis=1)
    columns["knee angle"] = np.stack([_angle(poses[:, r] - poses[:, m], poses[:, e] - poses[:, m])
                                      for r, m, e in _LEGS], axis=1)
    columns["hip angle"] = np.stack([_angle(trunk, poses[:, m] - poses[:, r])
                                     for r, m, _ in _LEGS], axis=1)
    columns["shoulder angle"] = np.stack([_angle(-trunk, poses[:, m] - poses[:, r])
                                          for r, m, _ in _ARMS], axis=1)
    columns["neck angle"] = 180 - _angle(trunk, poses[:, HEAD_TOP] - poses[:, THORAX])
    columns["trunk tilt"] = _angle(trunk, np.array([[0.0, -1.0]]))
    extent = poses.max(axis=1) - poses.min(axis=1)
    columns["aspect ratio"] = np.log2(extent[:, 0] / extent[:, 1])
    for name, chains in (("arm", _ARMS), ("leg", _LEGS)):
        lengths = np.stack([_length(poses, r, m) + _length(poses, m, e)
                            for r, m, e in chains], axis=1)
        columns[f"{name} foreshortening"] = lengths.min(1) / lengths.max(1)
    columns["crossing limbs"] = _crossings(poses)
    return pd.DataFrame({name: list(columns[name]) if np.ndim(columns[name]) == 2
                         else columns[name] for name in FEATURES})


def _values(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = np.asarray(np.hstack(frame[name].to_numpy()) if frame[name].dtype == object
                        else frame[name], np.float64).ravel()
    return values[np.isfinite(values)]


def source_poses(text: str, count: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """The poses a ``poses`` setting gives (``data.poses.load_pose_source``): every complete
    pose of a single bank, else ``count`` poses drawn with ``seed``; and a description
    ("7696 complete poses of FILE (4304 rows skipped: a joint missing)")."""
    from .poses import PoseBank, load_pose_source

    source = load_pose_source(text)
    if isinstance(source, PoseBank):
        skipped = (f" ({source.skipped} rows skipped: a joint missing or all at one point)"
                   if source.skipped else "")
        return source.poses, f"{len(source.poses)} complete poses of {text}{skipped}"
    return (source.sample(np.random.default_rng(seed), count),
            f"{count} poses of {text} (seed {seed})")


def compare_features(poses: np.ndarray, reference: np.ndarray) -> pd.DataFrame:
    """``feature_table`` of two sets of poses ``(n, 16, 2)``."""
    return feature_table(pose_features(poses), pose_features(reference))


def feature_table(mine: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Per feature, from two ``pose_features`` frames: the mean and standard deviation of
    ``mine`` and of ``theirs`` (the reference), the Wasserstein distance between them, and
    that distance over the reference's standard deviation (``distance / spread``), largest
    first."""
    from scipy.stats import wasserstein_distance

    rows = []
    for name, (meaning, unit) in FEATURES.items():
        a, b = _values(mine, name), _values(theirs, name)
        if len(a) < 2 or len(b) < 2:                       # nothing to compare: n/a
            rows.append({"feature": name, "unit": unit, "meaning": meaning})
            continue
        distance, spread = wasserstein_distance(a, b), b.std()
        flat = spread <= 1e-9 * max(1.0, abs(b.mean()))   # a bank of one pose, repeated
        rows.append({"feature": name, "unit": unit, "mean": a.mean(), "std": a.std(),
                     "reference mean": b.mean(), "reference std": spread,
                     "distance": distance,
                     "distance / spread": np.nan if flat else distance / spread,
                     "meaning": meaning})
    columns = ["feature", "unit", "mean", "std", "reference mean", "reference std",
               "distance", "distance / spread", "meaning"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("distance / spread", ascending=False,
                             na_position="last").reset_index(drop=True)


def comparison_figure(mine: pd.DataFrame, theirs: pd.DataFrame, table: pd.DataFrame,
                      label: str, reference_label: str) -> bytes:
    """A PNG of two ``pose_features`` frames and their ``feature_table``: one panel per
    feature (the largest difference first), the two samples' histograms over each other,
    each panel titled with its distance."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    columns = 4
    rows = -(-len(table) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows))
    for axis in axes.ravel()[len(table):]:
        axis.axis("off")
    for axis, (_, row) in zip(axes.ravel(), table.iterrows()):
        a, b = _values(mine, row["feature"]), _values(theirs, row["feature"])
        both = np.concatenate([a, b])
        if row["feature"] == "crossing limbs":
            bins = np.arange(-0.5, max(both.max(initial=0), 1) + 1.5)
        else:
            low, high = np.percentile(both, [0.5, 99.5]) if len(both) else (0, 1)
            bins = np.linspace(low, high if high > low else low + 1, 40)
        axis.hist(b, bins, density=True, alpha=0.5, color="tab:blue", label=reference_label)
        axis.hist(a, bins, density=True, histtype="step", linewidth=1.6, color="tab:red",
                  label=label)
        axis.set_title(f"{row['feature']}  (W/σ {row['distance / spread']:.2f})", fontsize=9)
        axis.set_xlabel(row["unit"], fontsize=8)
        axis.tick_params(labelsize=7)
        axis.set_yticks([])
    axes.ravel()[0].legend(fontsize=8)
    figure.suptitle(f"{label} against {reference_label}: features by distance, largest first")
    figure.tight_layout()
    return figure_png(figure)
