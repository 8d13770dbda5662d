"""Where stick-figure poses come from: a procedural kinematic sampler or a bank of poses.

Both sources return poses as ``(n, 16, 2) float64`` arrays, xy, in arbitrary units with y
pointing down (image orientation); placement (``placement.py``) maps them into the frame.
"""
from __future__ import annotations

from dataclasses import dataclass
import warnings
from pathlib import Path

import numpy as np

from ..errors import StickposeError
from ..files import load_array
from ..skeleton import NUM_JOINTS

# --- the kinematic model -------------------------------------------------------------------
# 3-D body frame: +x is the person's left, +y up, +z the person's forward (toward a camera
# that looks at the front). Right limbs are computed as mirror images of left limbs.

# Bone lengths as fractions of standing height (Drillis & Contini segment proportions).
BONES = {
    "torso": 0.29,        # pelvis -> thorax
    "neck": 0.05,         # thorax -> upper neck
    "head": 0.13,         # upper neck -> head top
    "shoulder": 0.13,     # thorax -> each shoulder
    "hip": 0.055,         # pelvis -> each hip
    "upper_arm": 0.186,
    "forearm": 0.146,
    "thigh": 0.245,
    "shin": 0.246,
}

# Joint angles in degrees: name -> (lower limit, upper limit).
ANGLE_LIMITS = {
    "trunk_flex": (-30, 100), "trunk_side": (-35, 35), "trunk_twist": (-45, 45),
    "neck_flex": (-40, 50), "neck_side": (-30, 30),
    "l_shoulder_flex": (-50, 180), "l_shoulder_abd": (-10, 180),
    "l_arm_twist": (-60, 90), "l_elbow": (0, 150),
    "r_shoulder_flex": (-50, 180), "r_shoulder_abd": (-10, 180),
    "r_arm_twist": (-60, 90), "r_elbow": (0, 150),
    "l_hip_flex": (-30, 125), "l_hip_abd": (-15, 60), "l_hip_rot": (-30, 45), "l_knee": (0, 150),
    "r_hip_flex": (-30, 125), "r_hip_abd": (-15, 60), "r_hip_rot": (-30, 45), "r_knee": (0, 150),
}
ANGLES = tuple(ANGLE_LIMITS)
_LO = np.array([lo for lo, _ in ANGLE_LIMITS.values()], float)
_HI = np.array([hi for _, hi in ANGLE_LIMITS.values()], float)

# Spread of each angle around an activity's mean, in degrees.
_SPREAD = {
    "trunk_flex": 8, "trunk_side": 6, "trunk_twist": 12, "neck_flex": 10, "neck_side": 8,
    "shoulder_flex": 20, "shoulder_abd": 12, "arm_twist": 20, "elbow": 18,
    "hip_flex": 10, "hip_abd": 5, "hip_rot": 10, "knee": 10,
}

# Activities: (weight, {angle or side-less angle: mean or (mean, spread)}). Side-less names
# ("elbow") set both sides; unnamed angles are 0 with the default spread.
ACTIVITIES = {
    "stand": (0.11, {"trunk_flex": 3, "shoulder_flex": 10, "shoulder_abd": 10,
                     "elbow": 15, "hip_abd": 5, "knee": 5}),
    "walk": (0.11, {"l_hip_flex": 25, "r_hip_flex": -15, "l_knee": 15, "r_knee": 25,
                    "l_shoulder_flex": -20, "r_shoulder_flex": 25, "shoulder_abd": 8,
                    "elbow": 25}),
    "run": (0.14, {"trunk_flex": 15, "l_hip_flex": (65, 15), "l_knee": (90, 20),
                   "r_hip_flex": (-20, 10), "r_knee": (60, 25), "l_shoulder_flex": -45,
                   "r_shoulder_flex": 55, "shoulder_abd": 15, "elbow": (90, 15)}),
    "reach_up": (0.08, {"trunk_side": -8, "l_shoulder_flex": (165, 12),
                        "l_shoulder_abd": (20, 15), "l_elbow": 10, "r_shoulder_flex": (40, 50),
                        "r_shoulder_abd": (20, 20), "r_elbow": (30, 30), "knee": 5}),
    "reach_forward": (0.07, {"trunk_flex": (30, 12), "r_shoulder_flex": (90, 15),
                             "r_elbow": 10, "l_shoulder_flex": (40, 40), "l_elbow": (40, 30),
                             "l_hip_flex": 40, "l_knee": 40, "r_hip_flex": -10}),
    "bend": (0.08, {"trunk_flex": (80, 15), "shoulder_flex": (80, 25), "elbow": 20,
                    "hip_abd": 8, "knee": 10}),
    "sit": (0.09, {"hip_flex": (90, 10), "knee": (90, 15), "shoulder_flex": 30,
                   "shoulder_abd": 10, "elbow": (60, 20), "hip_abd": 10}),
    "squat": (0.07, {"trunk_flex": (35, 12), "hip_flex": (110, 12), "knee": (130, 12),
                     "hip_abd": 15, "shoulder_flex": (60, 25), "elbow": 30}),
    "kick": (0.06, {"trunk_flex": -10, "l_hip_flex": (85, 15), "l_knee": (15, 15),
                    "r_knee": 15, "shoulder_abd": (60, 20), "elbow": 20}),
    "jump": (0.06, {"shoulder_abd": (150, 20), "shoulder_flex": 10, "elbow": 15,
                    "hip_abd": (30, 10), "knee": 20}),
    "lunge": (0.05, {"l_hip_flex": (80, 10), "l_knee": (90, 12), "r_hip_flex": (-30, 8),
                     "r_knee": 10, "shoulder_flex": (20, 30), "elbow": 30}),
    "balance": (0.04, {"shoulder_abd": (90, 15), "l_hip_flex": (40, 20),
                       "l_knee": (80, 25), "elbow": 10}),
    "kneel": (0.04, {"l_hip_flex": (90, 10), "l_knee": (90, 10), "r_hip_flex": (0, 10),
                     "r_knee": (90, 10), "shoulder_flex": 20, "elbow": 30}),
}


def _activity_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (A,), mean angles (A, P) and spreads (A, P) of every activity, in degrees."""
    weights, means, spreads = [], [], []
    for weight, settings in ACTIVITIES.values():
        mean = np.zeros(len(ANGLES))
        spread = np.array([_SPREAD[name[2:] if name[:2] in ("l_", "r_") else name]
                           for name in ANGLES], float)
        for key, value in settings.items():
            mu, sd = value if isinstance(value, tuple) else (value, None)
            for name in ([key] if key in ANGLE_LIMITS else ["l_" + key, "r_" + key]):
                mean[ANGLES.index(name)] = mu
                if sd is not None:
                    spread[ANGLES.index(name)] = sd
        weights.append(weight)
        means.append(mean)
        spreads.append(spread)
    weights = np.array(weights)
    return weights / weights.sum(), np.array(means), np.array(spreads)


_WEIGHTS, _MEANS, _SPREADS = _activity_tables()
# Column permutation swapping l_* and r_* angles; side bends and twists change sign.
_MIRROR = np.array([ANGLES.index(("r_" + n[2:]) if n[:2] == "l_" else
                                 ("l_" + n[2:]) if n[:2] == "r_" else n) for n in ANGLES])
_MIRROR_SIGN = np.array([-1.0 if n in ("trunk_side", "trunk_twist", "neck_side") else 1.0
                         for n in ANGLES])


def _rot(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(n, 3, 3)`` about x (0), y (1) or z (2) by angles ``(n,)`` degrees."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def _apply(rotation: np.ndarray, vector) -> np.ndarray:
    """Rotate vectors: ``(n, 3, 3) @ (3,) or (n, 3) -> (n, 3)``."""
    return np.einsum("nij,...j->ni", rotation, np.asarray(vector, float)) \
        if np.ndim(vector) == 1 else np.einsum("nij,nj->ni", rotation, vector)


def _limb(frame, flex, abd, twist, bend, upper, lower, bend_sign):
    """Upper and lower segment vectors ``(n, 3)`` of a left limb hanging from ``frame``.

    ``flex`` raises the limb forward, ``abd`` sideways (outward = +x), ``twist`` turns it
    about its own axis, and ``bend`` folds the lower segment forward (bend_sign +1, elbow) or
    backward (-1, knee). Angles ``(n,)`` in degrees; lengths ``(n,)``.
    """
    down = np.array([0.0, -1.0, 0.0])
    limb = frame @ _rot(0, -flex) @ _rot(2, abd)
    upper_vec = _apply(limb, down) * upper[:, None]
    lower_vec = _apply(limb @ _rot(1, twist) @ _rot(0, -bend_sign * bend), down) * lower[:, None]
    return upper_vec, lower_vec


@dataclass(frozen=True)
class ProceduralPoses:
    """Human-looking poses from a kinematic 16-joint skeleton.

    Each figure draws an activity (standing, walking, running, reaching, bending, sitting,
    squatting, kicking, jumping, lunging, balancing, kneeling), joint angles around that
    activity's posture clipped to anatomical limits, per-figure limb proportions, a random
    viewing direction (orthographic camera), and a whole-body in-plane rotation.
    """

    proportion_spread: float = 0.06   # relative std of each bone length
    camera_pitch: float = 12.0        # std of camera elevation, degrees
    roll_spread: float = 10.0         # std of in-plane rotation, degrees
    upside_fraction: float = 0.08     # share of figures with any in-plane rotation
    bone_scale: tuple = ()            # (bone, factor) pairs applied to BONES
    angle_shift: tuple = ()           # (angle or side-less angle, added mean, spread factor)
    fold: tuple = ()                  # angles reflected at their lower limit, not clipped
    activity_scale: tuple = ()        # (activity, factor) pairs applied to its weight

    def sample_angles(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Joint angles ``(n, len(ANGLES))`` in degrees, within ``ANGLE_LIMITS``."""
        scale = dict(self.activity_scale)
        weights = _WEIGHTS * [scale.get(name, 1.0) for name in ACTIVITIES]
        activity = rng.choice(len(_WEIGHTS), size=n, p=weights / weights.sum())
        shift, factor = np.zeros(len(ANGLES)), np.ones(len(ANGLES))
        for key, mean, spread in self.angle_shift:
            for name in ([key] if key in ANGLE_LIMITS else ["l_" + key, "r_" + key]):
                shift[ANGLES.index(name)] += mean
                factor[ANGLES.index(name)] *= spread
        angles = (_MEANS[activity] + shift
                  + _SPREADS[activity] * factor * rng.standard_normal((n, len(ANGLES))))
        mirror = rng.random(n) < 0.5
        angles[mirror] = angles[mirror][:, _MIRROR] * _MIRROR_SIGN
        for key in self.fold:
            for name in ([key] if key in ANGLE_LIMITS else ["l_" + key, "r_" + key]):
                column = ANGLES.index(name)
                angles[:, column] = _LO[column] + np.abs(angles[:, column] - _LO[column])
        return np.clip(angles, _LO, _HI)

    def sample_bones(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Bone lengths ``(n,)`` per bone name, as fractions of standing height."""
        build = 1.0 + 0.08 * rng.standard_normal((n, 3)).clip(-2.5, 2.5)  # arms, legs, width
        group = {"upper_arm": 0, "forearm": 0, "thigh": 1, "shin": 1, "shoulder": 2, "hip": 2}
        bones, scale = {}, dict(self.bone_scale)
        for name, length in BONES.items():
            length = length * scale.get(name, 1.0)
            own = 1.0 + self.proportion_spread * rng.standard_normal(n).clip(-2.5, 2.5)
            bones[name] = length * own * (build[:, group[name]] if name in group else 1.0)
        return bones

    def sample_3d(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Poses ``(n, 16, 3)`` in the body frame (+x left, +y up, +z forward), height ~1."""
        a = dict(zip(ANGLES, self.sample_angles(rng, n).T))
        bones = self.sample_bones(rng, n)
        # Upward segments bend forward (+z) with a positive rotation about x; limbs hanging
        # down take the opposite sign (see _limb).
        trunk = _rot(1, a["trunk_twist"]) @ _rot(0, a["trunk_flex"]) @ _rot(2, a["trunk_side"])
        head = trunk @ _rot(0, a["neck_flex"]) @ _rot(2, a["neck_side"])
        hips_frame = _rot(1, -0.3 * a["trunk_twist"])
        joints = np.zeros((n, NUM_JOINTS, 3))
        thorax = _apply(trunk, [0.0, 1.0, 0.0]) * bones["torso"][:, None]
        joints[:, 7] = thorax
        joints[:, 8] = thorax + _apply(head, [0.0, 1.0, 0.0]) * bones["neck"][:, None]
        joints[:, 9] = joints[:, 8] + _apply(head, [0.0, 1.0, 0.0]) * bones["head"][:, None]
        mirror = np.diag([-1.0, 1.0, 1.0])
        for side, flip, (hip, knee, ankle, shoulder, elbow, wrist) in (
                ("l", np.eye(3), (3, 4, 5, 13, 14, 15)),
                ("r", mirror, (2, 1, 0, 12, 11, 10))):
            # A right limb is the mirror image of a left limb with the right limb's angles.
            t_frame = flip @ trunk @ flip
            h_frame = flip @ hips_frame @ flip
            joints[:, shoulder] = thorax + (_apply(t_frame, [1.0, 0.0, 0.0])
                                            * bones["shoulder"][:, None]) @ flip
            up, low = _limb(t_frame, a[side + "_shoulder_flex"], a[side + "_shoulder_abd"],
                            a[side + "_arm_twist"], a[side + "_elbow"],
                            bones["upper_arm"], bones["forearm"], +1)
            joints[:, elbow] = joints[:, shoulder] + up @ flip
            joints[:, wrist] = joints[:, elbow] + low @ flip
            joints[:, hip] = (_apply(h_frame, [1.0, 0.0, 0.0]) * bones["hip"][:, None]) @ flip
            up, low = _limb(h_frame, a[side + "_hip_flex"], a[side + "_hip_abd"],
                            a[side + "_hip_rot"], a[side + "_knee"],
                            bones["thigh"], bones["shin"], -1)
            joints[:, knee] = joints[:, hip] + up @ flip
            joints[:, ankle] = joints[:, knee] + low @ flip
        return joints

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Poses ``(n, 16, 2) float64``, xy with y down, seen from a random direction."""
        body = self.sample_3d(rng, n)
        yaw = rng.uniform(0.0, 360.0, n)
        pitch = np.clip(self.camera_pitch * rng.standard_normal(n), -35, 35)
        roll = np.where(rng.random(n) < self.upside_fraction, rng.uniform(-180, 180, n),
                        self.roll_spread * rng.standard_normal(n))
        view = _rot(2, roll) @ _rot(0, pitch) @ _rot(1, yaw)
        seen = np.einsum("nij,nkj->nki", view, body)
        return np.stack([seen[..., 0], -seen[..., 1]], axis=-1)


#: The second procedural sampler: the first (``procedural``, which draws stickpose's own
#: test sets and so stays as it is) with the changes that ``stickpose poses compare``
#: pointed to against the class's MPII training poses (train_split, 6,696 complete rows;
#: docs/results/transfer.md). Facts carried over as numbers, no data:
#: MPII's head (upper neck to head top) is 0.64 of the pelvis-thorax length against 0.45,
#: its hips are wider (0.40 against 0.30) and its shoulders narrower (0.62 against 0.72);
#: its necks bend more (mean 162 degrees, std 19, against 172 and 8); its elbows are bent
#: (mean 129 degrees, against 146 with a pile at straight), its arms hang lower (shoulder
#: angle 37 against 51 degrees), its trunks lean less, and arms-up or bent-over postures
#: are rarer.
PROCEDURAL2 = ProceduralPoses(
    bone_scale=(("head", 1.42), ("hip", 1.35), ("shoulder", 0.87)),
    angle_shift=(("neck_flex", 15, 2.0), ("elbow", 15, 1.4), ("shoulder_flex", -10, 0.8),
                 ("shoulder_abd", -8, 0.8), ("trunk_flex", -10, 0.7)),
    fold=("elbow",))

#: procedural samplers by the name a ``poses`` setting gives them.
SAMPLERS = {"procedural": ProceduralPoses(), "procedural2": PROCEDURAL2}


def augment_poses(poses: np.ndarray, rng: np.random.Generator, mirror: float = 0.0,
                  rotate: float = 0.0, jitter: float = 0.0) -> np.ndarray:
    """New poses from ``(n, 16, 2)`` ones (any units, y down), for training on a small bank:
    each mirrored with probability ``mirror`` (x negated and left/right labels exchanged, so
    a person-centric label stays person-centric), rotated about its centre by a uniform
    angle in ``[-rotate, rotate]`` degrees, and every joint moved by a normal offset of
    ``jitter`` x the pose's larger extent. Nothing is drawn for a setting left at 0."""
    from ..skeleton import FLIP_INDEX

    poses = np.array(poses, np.float64, copy=True)
    n = len(poses)
    if mirror > 0:
        flip = rng.random(n) < mirror
        poses[flip, :, 0] = -poses[flip, :, 0]
        poses[flip] = poses[flip][:, list(FLIP_INDEX)]
    if rotate > 0:
        angle = np.radians(rng.uniform(-rotate, rotate, n))
        cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
        centre = poses.mean(axis=1, keepdims=True)
        x, y = (poses - centre)[..., 0], (poses - centre)[..., 1]
        poses = centre + np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)
    if jitter > 0:
        extent = (poses.max(axis=1) - poses.min(axis=1)).max(axis=1)
        poses = poses + rng.normal(0.0, 1.0, poses.shape) * (jitter * extent)[:, None, None]
    return poses


class PoseFileError(StickposeError):
    """A pose bank file that cannot be used, with a message naming what was wrong."""


ACCEPTED_POSE_SHAPES = "(N, 16, 2) or (N, 32) with x0, y0, x1, y1, ... per row"


@dataclass(frozen=True)
class PoseBank:
    """Poses drawn uniformly from a file of real or hand-made poses."""

    poses: np.ndarray        # (N, 16, 2) float64, xy
    skipped: int = 0         # rows dropped because a joint was missing (-1)
    source: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Poses ``(n, 16, 2) float64`` chosen with replacement."""
        return self.poses[rng.integers(0, len(self.poses), n)]

    def in_order(self, first: int, n: int) -> np.ndarray:
        """Poses ``first .. first + n - 1`` ``(n, 16, 2) float64``, wrapping around."""
        return self.poses[np.arange(first, first + n) % len(self.poses)]

    def rows(self, start: int, stop: int | None) -> "PoseBank":
        """The bank's complete poses ``start:stop`` (as Python slices count them), named in
        an error when the range holds none."""
        poses = self.poses[start:stop]
        if len(poses) == 0:
            raise PoseFileError(f"pose file {self.source} has {len(self.poses)} complete "
                                f"pose(s); rows {start}:{'' if stop is None else stop} "
                                "of them are empty")
        return PoseBank(poses, self.skipped, self.source)


def load_pose_bank(path: str | Path) -> PoseBank:
    """Read a pose bank from ``.npy`` or ``.csv``; rows with a joint at -1 are skipped.

    Accepts ``(N, 16, 2)`` arrays or the class layout of 32 numbers per row; ``lsp:DIR``
    takes the poses of an unpacked LSP / LSPET folder (``data.lsp``).
    """
    if str(path).startswith("lsp:"):
        from .lsp import lsp_pose_bank
        if not str(path)[4:].strip():
            raise PoseFileError(f"poses {str(path)!r} names no folder; expected lsp:DIR")
        poses, skipped = lsp_pose_bank(str(path)[4:])
        return PoseBank(poses.astype(np.float64), skipped=skipped, source=str(path))
    path = Path(path)
    if path.is_dir():
        raise PoseFileError(f"pose file {path} is a folder; expected a .npy or .csv file")
    if not path.is_file():
        known = "" if path.suffix.lower() in (".npy", ".csv") else (
            f" (and it is not a sampler: {', '.join(SAMPLERS)}; a mix is SOURCE:WEIGHT,...)")
        raise PoseFileError(f"pose file {path} does not exist{known}")
    try:
        if path.suffix.lower() == ".npy":
            array = load_array(path, "pose file", PoseFileError)
        elif path.suffix.lower() == ".csv":
            with path.open() as stream:
                first = stream.readline()
            header = any(c.isalpha() for c in first.replace("e", "").replace("E", ""))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)     # empty file: handled below
                array = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=int(header))
        else:
            raise PoseFileError(f"pose file {path} has suffix {path.suffix!r}; "
                                "expected .npy or .csv")
    except (ValueError, OSError) as error:
        if isinstance(error, PoseFileError):
            raise
        raise PoseFileError(f"cannot read pose file {path}: {error}") from None
    if not np.issubdtype(array.dtype, np.number):
        raise PoseFileError(f"pose file {path} holds {array.dtype} values; expected numbers")
    if array.size == 0:
        raise PoseFileError(f"pose file {path} holds no poses")
    class_layout = array.ndim == 2 and array.shape[1] == 2 * NUM_JOINTS
    if class_layout:
        array = array.reshape(-1, NUM_JOINTS, 2)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 2):
        raise PoseFileError(f"pose file {path} has shape {array.shape}; "
                            f"expected {ACCEPTED_POSE_SHAPES}")
    array = array.astype(np.float64)
    # a joint at (-1, -1) is missing; in the class layout any -1 is (the class skipped every
    # row holding one, so its test sets are the rows left in order)
    flagged = (array == -1).any(axis=2) if class_layout else (array == -1).all(axis=2)
    missing = flagged | ~np.isfinite(array).all(axis=2)   # (N, 16)
    with np.errstate(all="ignore"):                       # a pose with no extent is no pose
        extent = np.nanmax(array, axis=1) - np.nanmin(array, axis=1)
    complete = ~missing.any(axis=1) & np.isfinite(extent).all(axis=1) & (extent > 0).any(axis=1)
    if not complete.any():
        raise PoseFileError(f"pose file {path} has no complete pose among {len(array)} rows "
                            "(a joint at -1 or not a number, or all joints at one point)")
    return PoseBank(array[complete], skipped=int((~complete).sum()), source=str(path))


@dataclass(frozen=True)
class PoseMixture:
    """Poses drawn from several sources, each pose from source ``k`` with probability
    ``weights[k]``."""

    sources: tuple            # ProceduralPoses or PoseBank
    weights: tuple            # floats summing to 1
    names: tuple              # each source as the user wrote it

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Poses ``(n, 16, 2) float64``: a source drawn per pose, then the poses of each."""
        which = rng.choice(len(self.sources), size=n, p=self.weights)
        poses = np.zeros((n, NUM_JOINTS, 2))
        for k, source in enumerate(self.sources):
            chosen = which == k
            if chosen.any():
                poses[chosen] = source.sample(rng, int(chosen.sum()))
        return poses


def split_pose_sources(text: str) -> list[tuple[str, float | None]]:
    """``"procedural:0.5,bank.npy:0.5"`` -> ``[("procedural", 0.5), ("bank.npy", 0.5)]``;
    a source without ``:WEIGHT`` gets ``None`` (a single source needs none). ``lsp:DIR``
    and ``class:NAME`` keep their own colon; spaces around names and weights are dropped."""
    parts = []
    for part in str(text).split(","):
        head, _, tail = part.strip().rpartition(":")
        try:                                  # float() would also take "1_0"
            weight = float(tail) if head and "_" not in tail else None
        except ValueError:
            weight = None
        if weight is None and head.strip() in SAMPLERS:
            raise PoseFileError(f"poses {text!r}: weight {tail.strip()!r} of {head.strip()} "
                                "is not a number")
        parts.append((head.strip(), weight) if weight is not None else (part.strip(), None))
    return parts


def check_pose_sources(text: str) -> list[tuple[str, float]]:
    """The sources of a ``poses`` setting with their weights (normalised to sum to 1), or a
    ``PoseFileError`` naming what is wrong: an empty source, a weight that is not positive,
    a mixture with a source without weight."""
    parts = split_pose_sources(text)
    if len(parts) == 1 and parts[0][1] is None:
        if not parts[0][0]:
            raise PoseFileError("poses is empty; expected 'procedural', 'procedural2', a pose "
                                "file, or a mixture such as 'procedural:0.5,FILE:0.5'")
        return [(parts[0][0], 1.0)]
    for index, (name, weight) in enumerate(parts):
        if not name:
            raise PoseFileError(f"poses {text!r}: source {index + 1} is empty (a ',' too many?)")
        if weight is None or not np.isfinite(weight) or weight <= 0:
            typed = str(text).split(",")[index].strip()
            raise PoseFileError(f"poses {text!r}: each source of a mixture needs a positive "
                                f"weight (a finite number), as in 'procedural:0.5,FILE:0.5' "
                                f"(got {typed})")
    total = sum(weight for _, weight in parts)
    return [(name, weight / total) for name, weight in parts]


def absolute_pose_sources(text: str) -> str:
    """``text`` with every pose file (and ``lsp:DIR``) made absolute, for settings kept in a
    run's config, which may be resumed from another folder."""
    def absolute(name):
        if name in SAMPLERS or name.startswith("class:"):
            return name
        if name.startswith("lsp:"):
            return "lsp:" + str(Path(name[4:]).expanduser().absolute())
        return str(Path(name).expanduser().absolute())
    return ",".join(absolute(name) + ("" if weight is None else f":{weight:g}")
                    for name, weight in split_pose_sources(text))


def load_pose_source(text: str):
    """What a ``poses`` setting names: a procedural sampler (``SAMPLERS``), a pose bank
    (``load_pose_bank``), or a ``PoseMixture`` of them (``SOURCE:WEIGHT,...``)."""
    parts = check_pose_sources(text)
    sources = tuple(SAMPLERS[name] if name in SAMPLERS else load_pose_bank(name)
                    for name, _ in parts)
    if len(parts) == 1:
        return sources[0]
    return PoseMixture(sources, tuple(w for _, w in parts), tuple(n for n, _ in parts))
