"""How stickpose's class drawing was checked against the class's own generator code.

Not part of stickpose and not run by its tests: it imports the class repository's code, which
stickpose never ships. Get a checkout of the class repository (public:
EdouardYvinec/IamStickman) at the commit to compare with, then, with stickpose installed:

    git clone https://github.com/EdouardYvinec/IamStickman && cd IamStickman
    git worktree add ../class-2021 1fc45d9      # the code that drew Dataset.zip (2021-10-06)
    git worktree add ../class-2022 440d365      # today's code (after the 2022-10-27 fixes)
    python docs/class-fidelity.py ../class-2021 --style class
    python docs/class-fidelity.py ../class-2022 --style class-2022

For the 3,516 test poses (test_split.npy's first 4 x 879, one image at a time, as the class's
generator/test.py drew its test sets) and 20 training batches of 64 at 196 px (the class's
training input), it prints how many figures have exactly the pixels the class's code draws
(figure vs background: colours and noise are drawn elsewhere and compared by the tests) and
exactly its labels. Cross-checking a commit against the other style shows that the comparison
tells the versions apart.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from stickpose.data.placement import class_stretch
from stickpose.data.render import class_labels, draw_stickman_class
from stickpose.data.styles import CLASS_STYLES, class_span
from stickpose.skeleton import line_thickness

TEST_COUNT = 4 * 879
BATCHES, BATCH = 20, 64


def stickpose_figures(poses32: np.ndarray, size: int, style: str, group: int):
    """stickpose's figure masks ``(n, size, size)`` and labels ``(n, 32)`` of class poses."""
    poses = poses32.reshape(-1, 16, 2).astype(np.float64)
    placed = class_stretch(poses, class_span(style, size), group)
    masks = []
    for pose in placed:
        image = np.zeros((size, size, 3), np.uint8)
        draw_stickman_class(image, pose, (255, 255, 255), line_thickness(size), style)
        masks.append(image.any(axis=2))
    return np.stack(masks), class_labels(placed).reshape(-1, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="the class repository at one commit")
    parser.add_argument("--style", choices=CLASS_STYLES, default="class")
    args = parser.parse_args()
    generator = args.checkout / "generator"
    if not (generator / "stickman.py").is_file():
        parser.error(f"{args.checkout} has no generator/stickman.py: expected a checkout of "
                     "the class repository (EdouardYvinec/IamStickman)")
    sys.path.insert(0, str(generator))
    import stickman as theirs                    # the class's code, at that commit

    np.random.seed(0)
    generator_ = theirs.stick_man_generator(batch_size=1, set_of_data="test",
                                            input_shape=(224, 224, 3))
    their_masks, their_labels = [], []
    for i in range(TEST_COUNT):
        images, keypoints = generator_[i]
        their_masks.append((images[0] > 0).any(axis=2))
        their_labels.append(keypoints[0])
    masks, labels = stickpose_figures(generator_.key_points.labels[:TEST_COUNT], 224,
                                      args.style, 1)
    same_masks = (masks == np.stack(their_masks)).all(axis=(1, 2)).sum()
    same_labels = (labels == np.stack(their_labels)).all(axis=1).sum()
    print(f"{args.checkout} vs style {args.style}: test poses at 224 px: identical figure "
          f"pixels {same_masks}/{TEST_COUNT}, identical labels {same_labels}/{TEST_COUNT}")

    generator_ = theirs.stick_man_generator(batch_size=BATCH, set_of_data="train",
                                            input_shape=(196, 196, 3))
    same_masks = same_labels = 0
    group = BATCH if args.style == "class" else 1
    for b in range(BATCHES):
        index = generator_.key_points.indexes[b * BATCH:(b + 1) * BATCH]
        poses = generator_.key_points.labels[index].copy()
        images, keypoints = generator_[b]
        masks, labels = stickpose_figures(poses, 196, args.style, group)
        same_masks += (masks == (images > 0).any(axis=3)).all(axis=(1, 2)).sum()
        same_labels += (labels == keypoints).all(axis=1).sum()
    print(f"  training batches of {BATCH} at 196 px: identical figure pixels "
          f"{same_masks}/{BATCHES * BATCH}, identical labels {same_labels}/{BATCHES * BATCH}")


if __name__ == "__main__":
    main()
