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

    path = Path(path)
    if not path.is_file():
        raise LspError(f"{path} does not exist; expected {LAYOUTS}. {WHERE}")
    try:
        content = loadmat(str(path))
    except (OSError, ValueError, TypeError) as error:
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
