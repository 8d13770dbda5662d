"""Small LSP / LSPET folders in the exact on-disk formats, for the tests."""
from pathlib import Path

import cv2
import numpy as np
from scipy.io import savemat

from stickpose.data.lsp import from_skeleton
from stickpose.data.stickman import StickmanConfig, StickmanGenerator


def write_lsp(folder: Path, count: int = 2000, variant: str = "lsp", size: int = 48,
              seed: int = 0) -> np.ndarray:
    """Stick-figure JPEGs and a ``joints.mat`` laid out as LSP (3 x 14 x N, flag 0 =
    visible, im0001.jpg) or LSPET (14 x 3 x N, flag 1 = visible, im00001.jpg), 1-based
    MATLAB pixels. Returns the 0-based 14-joint keypoints ``(N, 14, 2)``; the first image of
    every 10 has its left wrist marked occluded."""
    generator = StickmanGenerator(StickmanConfig(size=size, placement="fit"), seed)
    images, keypoints = [], []
    chunk = 0
    while sum(len(k) for k in keypoints) < count:
        pictures, points, _ = generator.chunk(chunk)
        images.append(pictures)
        keypoints.append(points)
        chunk += 1
    images, keypoints = np.concatenate(images)[:count], np.concatenate(keypoints)[:count]
    lsp = from_skeleton(keypoints).astype(np.float64)
    hidden = np.zeros((count, 14), bool)
    hidden[::10, 11] = True
    (folder / "images").mkdir(parents=True, exist_ok=True)
    digits = 4 if variant == "lsp" else 5
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / "images" / f"im{i + 1:0{digits}d}.jpg"),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    values = np.concatenate([lsp + 1, (hidden if variant == "lsp" else ~hidden)[..., None]], -1)
    joints = values.transpose(2, 1, 0) if variant == "lsp" else values.transpose(1, 2, 0)
    savemat(str(folder / "joints.mat"), {"joints": joints})
    return lsp
