"""How stickpose's "class score as written" was checked against the class's own evaluation code.

Not part of stickpose and not run by its tests: it runs the class repository's
``evaluation_test/test.py``, which stickpose never ships, unchanged. Get a checkout of the
class repository (public: EdouardYvinec/IamStickman) at the commit that scored the class's
teams, write the class's test sets with stickpose in the class's layout, and, with stickpose
installed:

    git clone https://github.com/EdouardYvinec/IamStickman && cd IamStickman
    git worktree add ../class-2021 1fc45d9
    stickpose generate --suite class --class-dir ~/IamStickman --format class --out Dataset
    python docs/class-evaluation-check.py ../class-2021 Dataset [--run runs/RUN]

For each of Test1-Test4 it scores stand-in predictions whose values are known (perfect
keypoints, the set's mean pose, all zeros, perfect at half scale, x and y exchanged, seeded
noise around the truth), and with ``--run`` a trained stickpose run, twice: with the class's
``evaluate_on_a_set`` (its file listing, string sort, cv2 reading and default resize, int64
labels; the stand-in "model" is handed each resized image in the class's order and answers
with that image's keypoints, times input / 224 as the class's models answered) and with
stickpose (``metrics.class_score_as_written`` on the same keypoints; for the run, ``stickpose
evaluate RUN --dataset class:Dataset/TestK --protocol class-as-written``'s library call). It
prints both and their largest difference; the check passes at 1e-6.
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from stickpose.data.class_format import load_class_set
from stickpose.metrics import class_score_as_written

SIZE = 224
INPUT = 64                       # the stand-ins' "input size": any value gives the same score


class Answers:
    """A stand-in for the class's ``DNN``: ``predict`` returns the keypoints of the image the
    class's loop is at, ``(1, 32)`` in input pixels (x0, y0, ...), from a function of the
    image's index and the resized image itself."""

    def __init__(self, folder: Path, answer, input_size: int):
        self.input_size = input_size
        names = sorted(e for e in os.listdir(folder) if ".png" in e)   # the class's order
        self.indices = iter(int(name[:-4]) for name in names)
        self.answer = answer

    def predict(self, batch):
        keypoints = self.answer(next(self.indices), batch[0])          # (16, 2), 224 px
        return (np.asarray(keypoints, np.float64) * self.input_size / SIZE).reshape(1, 32)


def class_score(theirs, root: Path, k: int, answer, input_size: int = INPUT) -> float:
    """The class's ``evaluate_on_a_set`` on ``root/Test{k}``, run from a folder beside it (its
    paths are ``../Dataset/...``)."""
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "Dataset").symlink_to(root.resolve())
        (Path(scratch) / "work").mkdir()
        here = os.getcwd()
        os.chdir(Path(scratch) / "work")
        try:
            with contextlib.redirect_stdout(io.StringIO()):          # its progress line
                return float(theirs.evaluate_on_a_set(
                    Answers(root / f"Test{k}", answer, input_size), input_size, k))
        finally:
            os.chdir(here)


def run_answers(run: Path):
    """``answer(index, resized image)`` of a stickpose run, as ``evaluate.written_scores``
    predicts: the class's bilinear-resized image (BGR, / 255) turned RGB, the run's head
    output decoded, mapped to 224 px by its own convention, relabelled by its handedness."""
    from stickpose.evaluate import _to_images, to_keypoints
    from stickpose.models.registry import HEADS
    from stickpose.runs import load_handedness, load_run

    config, model = load_run(run)
    head = HEADS.get(config.head)
    handedness = load_handedness(run)

    def answer(index, image):
        rgb = np.ascontiguousarray(image[..., ::-1], np.float32)[None]
        output = np.asarray(model.predict(rgb, verbose=0)[head.target])
        name = head.decoder if head.target == "heatmaps" else "coordinates"
        keypoints = to_keypoints(name, output, config.input_size, config.sigma)
        return _to_images(keypoints, SIZE, config, handedness)[0]
    return answer, config.input_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="the class repository at 1fc45d9")
    parser.add_argument("dataset", type=Path, help="ROOT of Test1-4 and test1-4_labels.npy")
    parser.add_argument("--run", type=Path, help="a trained stickpose run to check as well")
    args = parser.parse_args()
    code = args.checkout / "evaluation_test" / "test.py"
    if not code.is_file():
        parser.error(f"{args.checkout} has no evaluation_test/test.py: expected a checkout of "
                     "the class repository (EdouardYvinec/IamStickman)")
    sys.path.insert(0, str(code.parent))
    import test as theirs                         # the class's code, unchanged

    worst = 0.0
    for k in range(1, 5):
        _, truth, _ = load_class_set(args.dataset / f"Test{k}")
        labels = np.load(args.dataset / f"test{k}_labels.npy")
        noise = np.random.default_rng(k).normal(0, 3, truth.shape)
        mean = truth.mean(axis=0)
        stand_ins = {"perfect keypoints": truth, "the set's mean pose": np.broadcast_to(
                         mean, truth.shape), "all zeros": np.zeros_like(truth),
                     "perfect, half scale": truth / 2, "x and y exchanged": truth[..., ::-1],
                     "truth + N(0, 3 px)": truth + noise}
        print(f"Test{k} ({len(truth)} images, labels {labels.dtype}):")
        for name, keypoints in stand_ins.items():
            ours = class_score_as_written(keypoints, truth, SIZE, SIZE)
            their = class_score(theirs, args.dataset, k,
                                lambda i, image, keypoints=keypoints: keypoints[i])
            worst = max(worst, abs(ours - their))
            print(f"  {name:22} class code {their:.6f}   stickpose {ours:.6f}")
        if args.run:
            from stickpose.data.sets import folder_sets
            from stickpose.evaluate import evaluate_run

            answer, input_size = run_answers(args.run)
            their = class_score(theirs, args.dataset, k, answer, input_size)
            table = evaluate_run(args.run, folder_sets([f"class:{args.dataset}/Test{k}"]))
            ours = float(table["score_written"].iloc[0])
            worst = max(worst, abs(ours - their))
            print(f"  {'run ' + args.run.name:22} class code {their:.6f}   stickpose {ours:.6f}")
    print(f"largest difference {worst:.2e}: {'PASS' if worst <= 1e-6 else 'FAIL'} at 1e-6")
    sys.exit(0 if worst <= 1e-6 else 1)


if __name__ == "__main__":
    main()
