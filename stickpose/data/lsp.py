"""Leeds Sports Pose (LSP) and LSP-extended (LSPET) read from a local folder.

LSP: ``joints.mat`` holds ``joints`` shaped 3 x 14 x 2000 (x, y, flag) with flag **0 =
visible**, images ``images/im0001.jpg`` ...; train = images 1-1000, test = 1001-2000.
LSPET: ``joints`` shaped 14 x 3 x 10000 with flag **1 = visible**, images
``images/im00001.jpg`` .... The "original" and the small (person ~150 px) image variants
share these layouts. stickpose never downloads them.

Keypoints here are ``(N, 14, 2)`` in LSP order (see ``LSP_JOINTS``) or ``(N, 16, 2)`` in the
stickman skeleton after ``to_skeleton``; pixel centres at integer coordinates (LSP's own
coordinates are 1-based MATLAB pixels and are shifted by -1 on reading).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StickposeError
from ..skeleton import LSP_TO_SKELETON, NUM_JOINTS

LSP_JOINTS = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist",
              "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top")
LSP_COUNT = 14
WHERE = ("LSP and LSP-extended are at http://sam.johnson.io/research/lsp.html "
         "(lsp_dataset.zip, lspet_dataset.zip); unpack them and pass the folder")
LAYOUTS = ("LSP: joints.mat with `joints` 3 x 14 x N (x, y, flag; 0 = visible) and "
           "images/im0001.jpg...; LSPET: `joints` 14 x 3 x N (1 = visible) and "
           "images/im00001.jpg...")
L_HIP, R_HIP, R_SHOULDER, L_SHOULDER = 3, 2, 8, 9
PELVIS, THORAX = 6, 7


class LspError(StickposeError):
    """A missing or malformed LSP folder or file."""


@dataclass(frozen=True)
class LspJoints:
    """Annotations of one joints.mat: ``keypoints (N, 14, 2)`` 0-based pixels, ``visible
    (N, 14)`` bool, the variant (``lsp`` or ``lspet``) and the label convention the left/right
    labels follow (``person`` or ``observer``, inferred from the data)."""

    keypoints: np.ndarray
    visible: np.ndarray
    variant: str
    labels: str

    def describe(self) -> str:
        layout = ("LSP (3 x 14 x N, flag 0 = visible)" if self.variant == "lsp"
                  else "LSP-extended (14 x 3 x N, flag 1 = visible)")
        return (f"{len(self.keypoints)} poses, {layout}, {self.labels}-centric left/right "
                "labels (inferred)")


def read_joints_array(array: np.ndarray, source: str = "joints") -> LspJoints:
    """An ``LspJoints`` from a raw ``joints`` array, telling LSP from LSPET by its shape."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 3 and array.shape[:2] == (3, LSP_COUNT):
        variant, values = "lsp", array.transpose(2, 1, 0)          # (N, 14, 3)
        visible = values[..., 2] == 0
    elif array.ndim == 3 and array.shape[:2] == (LSP_COUNT, 3):
        variant, values = "lspet", array.transpose(2, 0, 1)
        visible = values[..., 2] == 1
    else:
        raise LspError(f"{source} has shape {array.shape}; expected 3 x 14 x N (LSP) or "
                       f"14 x 3 x N (LSP-extended). {WHERE}")
    keypoints = values[..., :2] - 1.0                             # MATLAB pixels are 1-based
    return LspJoints(keypoints, visible, variant, infer_labels(keypoints))


def read_joints(path: str | Path) -> LspJoints:
    """Read an LSP or LSPET ``joints.mat`` (variable ``joints``)."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    if not path.is_file():
        raise LspError(f"{path} does not exist; expected {LAYOUTS}. {WHERE}")
    try:
        content = loadmat(str(path))
    except (OSError, ValueError, TypeError, MatReadError) as error:
        raise LspError(f"cannot read {path} as a MATLAB file: {error}") from None
    if "joints" not in content:
        names = [k for k in content if not k.startswith("__")]
        raise LspError(f"{path} has no variable `joints` (it has {', '.join(names) or 'none'})"
                       f"; expected {LAYOUTS}")
    return read_joints_array(content["joints"], str(path))


def infer_labels(keypoints: np.ndarray) -> str:
    """``observer`` when the "right" shoulder and hip lie on the image's left in at least 80 %
    of poses (people in sports photos face the camera about two times in three, so
    person-centric labels give about 65 %), else ``person``."""
    right_on_left = ((keypoints[:, R_SHOULDER, 0] < keypoints[:, L_SHOULDER, 0]).mean()
                     + (keypoints[:, R_HIP, 0] < keypoints[:, L_HIP, 0]).mean()) / 2
    return "observer" if right_on_left >= 0.8 else "person"


def to_skeleton(keypoints: np.ndarray, visible: np.ndarray):
    """LSP's 14 joints -> the 16-joint skeleton ``(N, 16, 2)``, ``(N, 16)``: legs and arms
    map across, neck -> upper neck, head top -> head top; the pelvis is the mean of the hips
    and the thorax the mean of the shoulders, visible only when both are."""
    count = len(keypoints)
    points = np.zeros((count, NUM_JOINTS, 2), keypoints.dtype)
    seen = np.zeros((count, NUM_JOINTS), bool)
    points[:, list(LSP_TO_SKELETON)] = keypoints
    seen[:, list(LSP_TO_SKELETON)] = visible
    for joint, (a, b) in ((PELVIS, (R_HIP, L_HIP)), (THORAX, (R_SHOULDER, L_SHOULDER))):
        points[:, joint] = (keypoints[:, a] + keypoints[:, b]) / 2
        seen[:, joint] = visible[:, a] & visible[:, b]
    return points, seen


def from_skeleton(keypoints: np.ndarray) -> np.ndarray:
    """The 16-joint skeleton ``(..., 16, 2)`` -> LSP's 14 joints ``(..., 14, 2)``."""
    return keypoints[..., list(LSP_TO_SKELETON), :]


@dataclass(frozen=True)
class LspPart:
    """One unpacked LSP or LSPET folder: its annotations and image files (1-based order)."""

    folder: Path
    joints: LspJoints

    def image_path(self, index: int) -> Path:
        """The image of pose ``index`` (0-based)."""
        digits = 4 if self.joints.variant == "lsp" else 5
        return self.folder / "images" / f"im{index + 1:0{digits}d}.jpg"


def find_lsp(folder: str | Path) -> dict[str, LspPart]:
    """The LSP and/or LSPET folders at ``folder``: the folder itself (``joints.mat`` inside)
    or its direct subfolders that hold one (e.g. ``lsp_dataset/``, ``lspet_dataset/``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LspError(f"LSP folder {folder} does not exist. {WHERE}")
    candidates = [folder] if (folder / "joints.mat").is_file() else sorted(
        p for p in folder.iterdir() if p.is_dir() and (p / "joints.mat").is_file())
    parts: dict[str, LspPart] = {}
    for candidate in candidates:
        joints = read_joints(candidate / "joints.mat")
        if joints.variant in parts:
            raise LspError(f"{folder} holds two {joints.variant.upper()} folders "
                           f"({parts[joints.variant].folder.name}, {candidate.name}); keep one")
        parts[joints.variant] = LspPart(candidate, joints)
    if not parts:
        raise LspError(f"{folder} holds no joints.mat (nor do its subfolders); expected "
                       f"{LAYOUTS}. {WHERE}")
    return parts


def lsp_pose_bank(folder: str | Path):
    """Every fully visible LSP / LSPET pose in the 16-joint skeleton ``(N, 16, 2)``, and the
    number of poses left out (LSPET marks joints it could not place as not visible)."""
    poses, skipped = [], 0
    for part in find_lsp(folder).values():
        points, seen = to_skeleton(part.joints.keypoints, part.joints.visible)
        keep = seen.all(1) if part.joints.variant == "lspet" else np.ones(len(points), bool)
        poses.append(points[keep])
        skipped += int((~keep).sum())
    return np.concatenate(poses), skipped


# --- person-centred crops -------------------------------------------------------------------

CROP_PAD = 1.25          # crop side = this x the longer side of the joints' bounding box


def crop_matrix(keypoints: np.ndarray, visible: np.ndarray, size: int, scale: float = 1.0,
                rotation: float = 0.0, flip: bool = False, shift=(0.0, 0.0)) -> np.ndarray:
    """The 2 x 3 affine map from an image to a ``size`` x ``size`` crop centred on the person:
    the joints' bounding box (visible joints, or all when none is) grown by ``CROP_PAD``,
    then zoomed by ``scale``, rotated by ``rotation`` degrees, mirrored when ``flip`` and
    moved by ``shift`` (fractions of the crop)."""
    points = keypoints[visible] if visible.any() else keypoints
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    side = max(float((high - low).max()) * CROP_PAD, 8.0)
    zoom = size / side * scale
    angle = np.deg2rad(rotation)
    linear = zoom * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    if flip:
        linear = np.diag([-1.0, 1.0]) @ linear
    # crop pixel centres span [-0.5, size - 0.5]: the person's centre goes to (size - 1) / 2
    offset = (size - 1) / 2 + np.asarray(shift) * size - linear @ centre
    return np.hstack([linear, offset[:, None]])


def crop(image: np.ndarray, keypoints: np.ndarray, visible: np.ndarray, matrix: np.ndarray,
         size: int, flip: bool = False):
    """The crop ``(size, size, 3)``, its keypoints ``(16, 2)`` and visibility: joints that were
    not visible or fall outside the crop are marked not visible. With ``flip`` (the matrix
    mirrors), left and right joints swap so that labels keep their meaning."""
    import cv2

    from ..skeleton import FLIP_INDEX

    patch = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)
    points = keypoints @ matrix[:, :2].T + matrix[:, 2]
    inside = ((points > -0.5) & (points < size - 0.5)).all(axis=1)
    seen = visible & inside
    if flip:
        points, seen = points[list(FLIP_INDEX)], seen[list(FLIP_INDEX)]
    return patch, points.astype(np.float32), seen


def uncrop(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Crop keypoints ``(..., 16, 2)`` back to the image (a matrix without flip)."""
    linear, offset = matrix[:, :2], matrix[:, 2]
    return (points - offset) @ np.linalg.inv(linear).T


# --- splits and the tf.data stream ----------------------------------------------------------

LSP_TRAIN = 1000         # LSP images 1-1000 train, 1001-2000 test
VALIDATION = 100         # the last LSP training images are held out for validation


@dataclass(frozen=True)
class LspSplit:
    """Image files and their 16-joint annotations ``(N, 16, 2)`` / ``(N, 16)``."""

    paths: tuple
    keypoints: np.ndarray
    visible: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` as RGB ``uint8``."""
        import cv2
        image = cv2.imread(self.paths[index], cv2.IMREAD_COLOR)
        if image is None:
            raise LspError(f"cannot read image {self.paths[index]}")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _split(part: LspPart, indices, labels: str) -> LspSplit:
    from ..skeleton import observer_centric

    indices = list(indices)
    keypoints, visible = to_skeleton(part.joints.keypoints[indices], part.joints.visible[indices])
    if labels != part.joints.labels:
        if labels == "person":
            raise LspError(f"{part.folder}/joints.mat has observer-centric labels; person-"
                           "centric ones cannot be recovered from them")
        keypoints, visible = observer_centric(keypoints, visible)
    paths = tuple(str(part.image_path(i)) for i in indices)
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise LspError(f"{len(missing)} of {len(paths)} images are missing in "
                       f"{part.folder / 'images'} (first: {Path(missing[0]).name}). {WHERE}")
    return LspSplit(paths, keypoints.astype(np.float32), visible)


def lsp_splits(folder: str | Path, labels: str = "observer") -> dict[str, LspSplit]:
    """``train``, ``validation`` and ``test`` of an LSP folder (plus LSPET when present):
    test = LSP 1001-2000; validation = LSP 901-1000; train = LSP 1-900 and every LSPET image
    (the extended protocol). Left/right labels are turned to ``labels``."""
    parts = find_lsp(folder)
    if "lsp" not in parts:
        raise LspError(f"{folder} has LSP-extended but not LSP itself, whose images 1001-2000 "
                       f"are the test set. {WHERE}")
    lsp = parts["lsp"]
    if len(lsp.joints.keypoints) != 2 * LSP_TRAIN:
        raise LspError(f"{lsp.folder}/joints.mat holds {len(lsp.joints.keypoints)} poses; "
                       f"LSP has {2 * LSP_TRAIN}")
    train = _split(lsp, range(LSP_TRAIN - VALIDATION), labels)
    if "lspet" in parts:
        extra = _split(parts["lspet"], range(len(parts["lspet"].joints.keypoints)), labels)
        train = LspSplit(train.paths + extra.paths,
                         np.concatenate([train.keypoints, extra.keypoints]),
                         np.concatenate([train.visible, extra.visible]))
    return {"train": train,
            "validation": _split(lsp, range(LSP_TRAIN - VALIDATION, LSP_TRAIN), labels),
            "test": _split(lsp, range(LSP_TRAIN, 2 * LSP_TRAIN), labels)}


def test_crops(split: LspSplit, size: int, count: int | None = None):
    """Un-augmented person-centred crops ``(n, size, size, 3)``, their keypoints and
    visibility, and each crop's matrix ``(n, 2, 3)`` (to map predictions back)."""
    count = len(split) if count is None else min(count, len(split))
    out = ([], [], [], [])
    for i in range(count):
        matrix = crop_matrix(split.keypoints[i], split.visible[i], size)
        for bucket, value in zip(out, (*crop(split.image(i), split.keypoints[i],
                                             split.visible[i], matrix, size), matrix)):
            bucket.append(value)
    return tuple(np.stack(b) for b in out)


def augmented(image, keypoints, visible, size: int, rng: np.random.Generator):
    """A training crop: scale 0.75-1.25, rotation +-30 degrees, a shift of up to 5 %, a
    mirror half the time, and brightness, contrast and colour jitter."""
    flip = bool(rng.random() < 0.5)
    matrix = crop_matrix(keypoints, visible, size, scale=rng.uniform(0.75, 1.25),
                         rotation=rng.uniform(-30, 30), flip=flip,
                         shift=rng.uniform(-0.05, 0.05, 2))
    patch, points, seen = crop(image, keypoints, visible, matrix, size, flip)
    gain = rng.uniform(0.7, 1.3) * rng.uniform(0.9, 1.1, 3)
    contrast = rng.uniform(0.7, 1.3)
    mean = patch.mean()
    patch = np.clip((patch - mean) * contrast + mean * gain, 0, 255).astype(np.uint8)
    return patch, points, seen


def lsp_stream(split: LspSplit, size: int, seed: int, batch_size: int, start: int = 0,
               shard: tuple[int, int] = (0, 1)):
    """An endless, seeded tf.data stream of augmented training crops from ``start`` on:
    JPEGs decoded in parallel and cached, shuffled, then cropped. Elements as the stickman
    stream's: ``image (S, S, 3) float32`` in [0, 1], ``keypoints (16, 2)``, ``visible (16,)``
    (batched). ``shard=(index, workers)``: worker ``index``'s part of each batch
    (``shards.in_shard``), in batches of ``batch_size / workers``; only its own crops are
    made."""
    from ..quiet_tf import tf
    from .shards import in_shard, shard_part

    part = shard_part(batch_size, shard)

    def decode(path, keypoints, visible):
        return tf.io.decode_jpeg(tf.io.read_file(path), channels=3), keypoints, visible

    def augment(index, element):
        def draw(k, image, keypoints, visible):
            rng = np.random.default_rng((seed, int(k)))
            return augmented(image, keypoints, visible, size, rng)
        patch, points, seen = tf.numpy_function(draw, [index, *element],
                                                (tf.uint8, tf.float32, tf.bool), stateful=False)
        patch.set_shape((size, size, 3))
        points.set_shape((NUM_JOINTS, 2))
        seen.set_shape((NUM_JOINTS,))
        return {"image": tf.cast(patch, tf.float32) / 255.0, "keypoints": points,
                "visible": seen}

    data = tf.data.Dataset.from_tensor_slices((list(split.paths), split.keypoints,
                                               split.visible))
    data = data.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
    data = data.repeat().shuffle(min(len(split), 2048), seed=seed).enumerate().skip(start)
    if shard[1] > 1:
        data = data.filter(lambda index, _: in_shard(index - start, batch_size, shard))
    data = data.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.batch(part, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
