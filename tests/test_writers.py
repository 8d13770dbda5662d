"""Every file stickpose writes goes through ``files.write_atomic`` (a temp file, then a
rename), so that no reader ever sees half a file. The few writers that cannot (Keras saves
to a path; a dataset is rendered into a staging folder that is renamed whole) are listed
here with the reason, and each of them writes to a temporary name that is renamed after."""
import ast
from pathlib import Path

import stickpose

PACKAGE = Path(stickpose.__file__).parent
WRITING_METHODS = {"write_text", "write_bytes", "savefig", "save", "save_weights", "dump",
                   "imwrite", "to_csv", "to_markdown", "to_html"}
IN_MEMORY = {"buffer", "stream_buffer"}       # writers into io.BytesIO objects
ALLOWED = {
    ("data/storage.py", "_render_chunk"): "into the staging folder, renamed whole",
    ("data/storage.py", "write_dataset"): "into the staging folder, renamed whole",
    ("data/class_format.py", "write_class_layout"): "into a .partial file, renamed whole",
    ("runs.py", "lock"): "the empty lock file flock holds (its content is never read)",
    ("training.py", "fit_handedness"): "Handedness.save, which writes through write_atomic",
    ("codecs/handedness.py", "fitted"): "Handedness.save, into the cache, through write_atomic",
    ("training.py", "_commit"): "Keras saves to a path: a hidden name, then renamed",
    ("training.py", "train_decoder"): "Keras saves to a path: a hidden name, then renamed",
    ("models/check.py", "_check"): "a throw-away model in a temporary folder of its own",
    ("pretrained/__init__.py", "publish"): "Keras saves to a path: into a staging folder, "
                                           "renamed whole",
}


def _writes(tree):
    """``(function name, line, call)`` for each call that writes to a path."""
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            names = {a.id for a in node.args if isinstance(a, ast.Name)}
            if isinstance(node.func, ast.Attribute) and node.func.attr in WRITING_METHODS:
                if node.func.attr in ("to_csv", "to_markdown", "to_html") and not node.args:
                    continue                              # returns text
                if not names & IN_MEMORY:
                    yield function.name, node.lineno, ast.unparse(node)[:80]
            elif isinstance(node.func, ast.Name) and node.func.id == "open":
                mode = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "mode"), None)
                if isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax"):
                    yield function.name, node.lineno, ast.unparse(node)[:80]


def test_the_scanner_sees_a_write():
    tree = ast.parse("def f(p):\n    p.write_text('x')\n    open(p, 'w')\n")
    assert [line for _, line, _ in _writes(tree)] == [2, 3]


def test_every_writer_goes_through_write_atomic():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(PACKAGE))
        if module == "files.py":
            continue
        for function, line, call in _writes(ast.parse(path.read_text())):
            if (module, function) not in ALLOWED:
                found.append(f"{module}:{line} in {function}: {call}")
    assert not found, "\n".join(found)
