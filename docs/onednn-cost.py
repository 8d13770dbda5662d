"""What TensorFlow's oneDNN kernels are worth to stickpose's training, measured side by side.

Not run by the tests. For each model (the board's recipes at 64 px, batch 32, and the shape
of issue 36's native crash: resnet width 8 at batch 7) it times training steps in fresh
processes with ``TF_ENABLE_ONEDNN_OPTS=1`` and ``=0`` in turn (A B A B ...), and prints the
median milliseconds per step of each and their ratio (off / on: above 1, oneDNN is faster).

    python docs/onednn-cost.py [--rounds 3] [--steps 20]
"""
import argparse
import os
import statistics
import subprocess
import sys

MODELS = [("hourglass", "heatmap", 20, 32), ("resnet", "integral", 24, 32),
          ("senet", "heatmap", 24, 32), ("unet", "integral", 6, 32),
          ("resnet", "integral", 8, 7)]


def child(arch: str, head: str, width: int, batch: int, steps: int) -> None:
    """Time ``steps`` training steps on random data; print ms per step."""
    import time

    import numpy as np

    from stickpose.quiet_tf import tf  # noqa: F401
    import keras

    from stickpose.models.build import build_model

    keras.utils.set_random_seed(0)
    model = build_model(arch, head, 64, width=width)
    rng = np.random.default_rng(0)
    images = rng.random((batch, 64, 64, 3), dtype=np.float32)
    targets = {name: rng.random((batch, *output.shape[1:]), dtype=np.float32)
               for name, output in model.output.items()}
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mean_squared_error")
    for _ in range(3):                                  # tracing and warm-up
        model.train_on_batch(images, targets)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, targets)
    print(1000 * (time.perf_counter() - start) / steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        arch, head, width, batch = args.child
        child(arch, head, int(width), int(batch), args.steps)
        return
    print(f"{'model':32} {'oneDNN on ms/step':>18} {'off ms/step':>12} {'off / on':>9}")
    for arch, head, width, batch in MODELS:
        times = {"1": [], "0": []}
        for _ in range(args.rounds):
            for setting in times:
                result = subprocess.run(
                    [sys.executable, __file__, "--steps", str(args.steps), "--child", arch,
                     head, str(width), str(batch)], capture_output=True, text=True,
                    env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting})
                if result.returncode:
                    print(f"{arch}/{head} w{width} b{batch} oneDNN={setting}: exit "
                          f"{result.returncode} {result.stderr.strip()[-200:]}")
                    continue
                times[setting].append(float(result.stdout.split()[-1]))
        on, off = (statistics.median(times[s]) if times[s] else float("nan") for s in "10")
        print(f"{f'{arch}/{head} w{width} batch {batch}':32} {on:18.1f} {off:12.1f} "
              f"{off / on:9.2f}")


if __name__ == "__main__":
    main()
