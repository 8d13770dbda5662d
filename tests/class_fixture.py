"""A small folder laid out like the class baseline repository, for tests."""
import numpy as np


def make_class_dir(folder, test_rows: int = 3600, train_rows: int = 7800, seed: int = 0):
    """A folder laid out like the class baseline repository (generator/train_split.npy,
    generator/test_split.npy, backgrounds.zip) with random poses and two small RGBA game
    screenshots. Every 10th row of each split has a -1 (the class skipped such rows)."""
    import zipfile

    import cv2

    rng = np.random.default_rng(seed)
    (folder / "generator").mkdir(parents=True)
    for name, count in (("train_split", train_rows), ("test_split", test_rows)):
        rows = rng.integers(0, 1000, (count, 32))
        rows[::10, rng.integers(0, 32)] = -1
        np.save(folder / "generator" / f"{name}.npy", rows.astype(np.int64))
    with zipfile.ZipFile(folder / "backgrounds.zip", "w") as archive:
        for index in range(2):
            screenshot = rng.integers(0, 256, (300, 400, 4), dtype=np.uint8)
            screenshot[:50, :, 3] = 0                         # transparent sky: black
            archive.writestr(f"backgrounds/level{index}.png",
                             cv2.imencode(".png", screenshot)[1].tobytes())
    return folder
