"""Output that reads well in a log: with stdout piped (as CI and schedulers run commands),
train prints one line per epoch and generate plain progress lines, never a progress bar
redrawn with carriage returns."""
import subprocess
import sys


def _piped(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "stickpose", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout
    return result.stdout


def test_piped_train_and_generate_print_lines_not_bars(tmp_path):
    generate = _piped("generate", "--out", "data", "--count", 130, "--size", 32,
                      "--workers", 1, cwd=tmp_path)
    assert "\r" not in generate and "\x1b" not in generate
    assert "generating: 130/130 (100%)" in generate
    train = _piped("train", "--input-size", 32, "--width", 4, "--epochs", 2, "--steps", 3,
                   "--test-count", 8, "--validation-count", 8, "--out", "run",
                   "--db", f"sqlite:///{tmp_path / 'store.sqlite'}", cwd=tmp_path)
    assert "\r" not in train and "\x1b" not in train
    epochs = [line for line in train.splitlines() if line.startswith("3/3 - ")]
    assert len(epochs) == 2, train                       # one line per epoch, no step bars
    assert "Epoch 2/2" in train and "test4: class score" in train
