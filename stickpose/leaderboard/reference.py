"""Reference rows: numbers shown beside stickpose's own that no run of stickpose trained,
never mixed into its means.

- The class's published table (seed report ``stickman-residual-hourglass``, section
  "Comparison between Architectures"): seed 001's class test score per architecture x head
  on the class's test1-test4, as its students reported it, never re-run (``reported``). By
  all the evidence it was computed by the class's evaluation code as written, so it is
  recorded as ``score_written`` (``metrics.class_scores_as_written``), not as the intended
  ``score``. Cells they left empty are recorded as not reported.
- Stand-ins and floors, measured here on a suite's test sets (``stickpose.references``):
  runs of arch ``reference`` whose head names the stand-in or floor.
"""
from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from ..files import check_stop
from .store import StoreError, _rows, _upsert, _write, results, runs, where

#: the arch of the measured reference rows (no registered architecture has this name)
REFERENCE_ARCH = "reference"

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
    ``class``, sets ``class/test1`` ..., metric ``score_written``, ``reported`` 1; an empty
    cell is a run row with no results."""
    rows = []
    for (arch, head), values in CLASS_TABLE.items():
        config = {"arch": arch, "head": head, "suite": "class", "seed": 1,
                  "input_size": None, "width": None, "reported": SOURCE}
        sets = {f"class/test{k + 1}": {"score_written": 0.0, "images": 879, "canonical": True,
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
    """Record the class's table as reference rows (again: replaced, not duplicated; rows an
    older stickpose recorded under the intended ``score`` are removed). Returns the number
    of cells (12)."""
    rows = class_rows()
    check_stop()
    try:
        with engine.begin() as connection:            # one transaction: all or nothing
            connection.execute(delete(results).where(
                results.c.run_id.in_([run["run_id"] for run, _ in rows])))
            _upsert(connection, runs, [run for run, _ in rows])
            _upsert(connection, results, [value for _, values in rows for value in values])
    except SQLAlchemyError as error:
        raise StoreError(f"cannot write to results store {where(str(engine.url))}: "
                         f"{str(error).splitlines()[0]}") from None
    return len(CLASS_TABLE)


def record_measured(engine, suite, names: list[str], count: int | None = None,
                    progress=None) -> list[str]:
    """Measure the stand-ins and floors (``stickpose.references``) on ``suite``'s sets
    ``names`` and record each as a reference run (arch ``reference``, head its name), with
    every metric ``evaluate`` gives a model, the class score as written on the class's
    sets. Returns the names recorded."""
    from ..data.sets import data_id, set_key, suite_sets
    from ..data.suites import is_builtin
    from ..evaluate import score
    from ..references import STAND_INS, suite_references

    references, loaded = suite_references(suite, names, count, progress)
    specs = {spec.name: spec for spec in suite_sets(suite, names, count)}
    recorded = []
    for name, keypoints in references.items():
        config = {"arch": REFERENCE_ARCH, "head": name, "suite": suite.name,
                  "input_size": None, "width": None, "seed": None,
                  "reference": "stand-in" if name in STAND_INS else "floor"}
        sets = {}
        for set_name, predicted in keypoints.items():
            images, truth, visible = loaded[set_name]
            spec = specs[set_key(suite.name, set_name)]
            sets[spec.name] = {"images": len(truth), "data_id": data_id(images, truth, visible),
                               "canonical": is_builtin(suite), "source": spec.source,
                               **score(predicted, truth, images.shape[1], visible,
                                       as_written=spec.class_layout)}
        run, values = _rows(config, None, sets, "reference", "")
        _write(engine, run, values)
        recorded.append(name)
    return recorded
