"""Reference rows: published numbers shown beside stickpose's own, never re-run here and
never mixed into its means. The one published table is the class's (seed report
``stickman-residual-hourglass``, section "Comparison between Architectures"): seed 001's
class test score per architecture x head on the class's test1-test4, as its students
reported it. Cells they left empty are recorded as not reported."""
from __future__ import annotations

from .store import _rows, _write

SOURCE = ("the class's published table (seed report 'stickman-residual-hourglass', "
          "Comparison between Architectures), as reported, not re-run")
#: (arch, head) -> test1..test4 as reported; None: the cell was left empty. The hourglass
#: scalar row repeats the inception heatmap row digit for digit in the report; it is kept
#: as published.
CLASS_TABLE = {
    ("resnet", "heatmap"): None,
    ("resnet", "scalar"): (1.51, 1.47, 1.44, 1.43),
    ("unet", "heatmap"): (1.54, 1.52, 1.52, 1.51),
    ("unet", "scalar"): (2.09, 2.14, 2.06, 2.13),
    ("senet", "heatmap"): None,
    ("senet", "scalar"): (1.27, 1.20, 1.24, 1.25),
    ("mobilenetv2", "heatmap"): (1.38, 1.34, 1.33, 1.30),
    ("mobilenetv2", "scalar"): (1.50, 1.51, 1.48, 1.51),
    ("inception", "heatmap"): (1.57, 1.63, 1.63, 1.59),
    ("inception", "scalar"): None,
    ("hourglass", "heatmap"): (1.77, 1.52, 1.48, 1.62),
    ("hourglass", "scalar"): (1.57, 1.63, 1.63, 1.59),
}


def class_rows() -> list[tuple[dict, list[dict]]]:
    """The ``runs`` row and ``results`` rows of each cell of the class's table: data
    ``class``, sets ``class/test1`` ..., metric ``score``, ``reported`` 1; an empty cell is a
    run row with no results."""
    rows = []
    for (arch, head), values in CLASS_TABLE.items():
        config = {"arch": arch, "head": head, "suite": "class", "seed": 1,
                  "input_size": None, "width": None, "reported": SOURCE}
        sets = {f"class/test{k + 1}": {"score": 0.0, "images": 879, "canonical": True,
                                       "data_id": "class-reported", "source": SOURCE}
                for k in range(4)}
        run, results = _rows(config, {"reported": True}, sets,
                              "quarter" if head == "heatmap" else "coordinates", "")
        run["run_id"] = f"reported-class-seed001-{arch}-{head}"
        rows.append((run, [{**result, "run_id": run["run_id"],     # empty: value NULL
                            "value": values[k] if values else None}
                           for k, result in enumerate(results)]))
    return rows


def record_class_table(engine) -> int:
    """Record the class's table as reference rows (again: replaced, not duplicated).
    Returns the number of cells (12)."""
    for run, results in class_rows():
        _write(engine, run, results)
    return len(CLASS_TABLE)
