"""Every command's every output location, pointed at places that cannot take it: an
unwritable path, a path under a file, a file where a folder is wanted and a folder where a
file is wanted. Each must fail at once (before any work) with an error naming the path, no
traceback, and nothing changed on disk.

The output options are found by walking the command line (every parameter whose type is
``cli.common.OutputPath``); a new one must be given a command line in ``COMMANDS`` below, or
``test_every_output_option_is_covered`` fails.
"""
import click
import pytest

from stickpose.cli import main
from stickpose.cli.common import OutputPath
from tests.cli_helpers import invoke

# command path and output parameter -> the command line, with {out} where the output goes
COMMANDS = {
    ("generate", "out"): ["generate", "--count", 1, "--size", 32, "--out", "{out}"],
    ("generate", "preview"): ["generate", "--count", 1, "--size", 32, "--out", "{tmp}/g",
                              "--preview", "{out}"],
    ("train", "out"): ["train", "--epochs", 1, "--out", "{out}"],
    ("evaluate", "out"): ["evaluate", "{tmp}/run", "--out", "{out}"],
    ("predict", "out"): ["predict", "{tmp}/x.png", "--run", "{tmp}/run", "--out", "{out}"],
    ("report", "out"): ["report", "{tmp}/run", "--out", "{out}"],
    ("export", "out"): ["export", "{tmp}/run", "--out", "{out}"],
    ("leaderboard run", "out"): ["leaderboard", "run", "--archs", "resnet", "--heads",
                                 "scalar", "--out", "{out}"],
    ("leaderboard plot", "out"): ["leaderboard", "plot", "--out", "{out}"],
    ("leaderboard export", "folder"): ["leaderboard", "export", "{out}"],
    ("leaderboard scaling", "folder"): ["leaderboard", "scaling", "{out}"],
    ("poses compare", "out"): ["poses", "compare", "procedural", "--count", 10, "--out", "{out}"],
    ("bench transfer", "out"): ["bench", "transfer", "--class-dir", "{tmp}/class", "--out",
                                "{out}"],
    ("lsp score", "out"): ["lsp", "score", "{tmp}/p.mat", "{tmp}/joints.mat", "--out",
                           "{out}"],
}


def output_parameters():
    """``{(command path, parameter name): OutputPath}`` over the whole command line."""
    found = {}

    def walk(command, path, context):
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                walk(sub, f"{path} {name}".strip(), click.Context(sub, parent=context))
        for parameter in command.params:
            if isinstance(parameter.type, OutputPath):
                found[(path, parameter.name)] = parameter.type
    walk(main, "", click.Context(main))
    return found


def test_every_output_option_is_covered():
    assert set(output_parameters()) == set(COMMANDS)


def bad_places(tmp, kind, suffix):
    """Places an output of ``kind`` cannot go, made under ``tmp``."""
    name = f"x{suffix or ''}"
    (tmp / "notes.txt").write_text("mine")
    places = {"unwritable": f"/proc/stickpose-test/{name}", "empty": "", "blank": " ",
              "under a file": str(tmp / "notes.txt" / name)}
    if kind == "folder":
        places["a file, not a folder"] = str(tmp / "notes.txt")
        places["a folder that cannot be written"] = "/proc"
    else:
        (tmp / f"folder{suffix or ''}").mkdir()
        places["a folder, not a file"] = str(tmp / f"folder{suffix or ''}")
        if suffix:
            places["another kind of file"] = str(tmp / "notes.txt")
    return places


def _snapshot(root):
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("key", sorted(COMMANDS))
def test_bad_output_places_fail_at_once_and_change_nothing(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = output_parameters()[key]
    for what, place in bad_places(tmp_path, output.kind, output.suffix).items():
        before = _snapshot(tmp_path)
        args = [str(a).format(out=place, tmp=tmp_path) for a in COMMANDS[key]]
        result = invoke(*args)
        text = " ".join(result.output.split())
        assert result.exit_code != 0, (key, what, result.output)
        assert place in text and "Traceback" not in result.output, (key, what, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            (key, what, result.exception)
        assert _snapshot(tmp_path) == before, (key, what)
