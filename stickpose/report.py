"""``stickpose report``: one self-contained HTML page for a run (images embedded), with its
config, curves, evaluation tables, pictures and leaderboard position."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from . import __version__
from .data.sets import render_set, suite_set
from .files import check_output, write_atomic
from .runs import RunDir, load_run, load_run_suite

PICTURES = (("curves.png", "Training curves"),
            ("predictions.png", "Truth (top) and prediction (bottom)"),
            ("worst.png", "The worst images by mean joint error"),
            ("joint-errors.png", "Mean error per joint and decoder"),
            ("heatmaps-0.png", "Heatmaps of one image with every decoder's point"),
            ("gmm-0.png", "GMM clusters on the knees and ankles"))
STYLE = """body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #bbb;
padding:3px 8px;text-align:right}th{background:#eee}img{max-width:100%;margin:0.3em 0}
figcaption{color:#555;font-size:90%}"""
# after loading, the page records how many of its images decoded (a test reads it back)
CHECK = """<script>window.addEventListener('load',function(){var i=document.images,n=0;
for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0){n++;}}
document.body.setAttribute('data-images-loaded',n);
document.body.setAttribute('data-images',i.length);});</script>"""


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0)


def _leaderboard_position(config, engine) -> str:
    """Where the run stands among the runs recorded in the store ``engine`` (see
    ``leaderboard.store.open_store``) on test1's class score."""
    from dataclasses import asdict

    from .leaderboard.board import for_suite, load
    from .leaderboard.store import run_id as store_run_id

    run_id = store_run_id(asdict(config))
    frame = for_suite(load(engine))
    scores = frame[(frame["metric"] == "score") & (frame["set"] == "test1")
                   & frame["decoder"].isin(("quarter", "coordinates"))]
    scores = scores.groupby("run_id")["value"].mean().sort_values()
    if run_id not in scores.index:
        return ("<p>The results store holds no test1 score for this run (is it recorded "
                "there? see <code>--db</code>).</p>")
    rank = list(scores.index).index(run_id) + 1
    return (f"<p>Class test score on test1: <b>{scores[run_id]:.3f}</b>, rank <b>{rank}</b> "
            f"of {len(scores)} recorded runs (best {scores.iloc[0]:.3f}).</p>")


def build_report(run: Path, engine) -> str:
    """The HTML page of ``run`` from its files (``write_report`` checks the run and makes
    the ``RUN/show/`` pictures first), placed among the runs of the store ``engine``."""
    run = RunDir(run)
    config = run.config()
    evaluation = run.evaluation() if (run / run.EVALUATION).is_file() else {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>stickpose report: "
             f"{html.escape(run.path.name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(config.name)}</h1>",
             f"<p>Run directory <code>{html.escape(str(run))}</code>, stickpose {__version__}."
             "</p>", "<h2>Config</h2>",
             _table(pd.DataFrame({"setting": list(vars(config)),
                                  "value": [str(v) for v in vars(config).values()]}))]
    if evaluation:
        sets = pd.DataFrame(evaluation["sets"]).T.reset_index(names="set")
        if "images" in sets:
            sets["images"] = sets["images"].astype(int)
        summary = {k: evaluation[k] for k in ("train_seconds", "epochs",
                                              "train_images_per_second", "parameters",
                                              "flops", "inference_ms") if k in evaluation}
        parts += ["<h2>Training and test results</h2>",
                  _table(pd.DataFrame([summary])), _table(sets)]
    table = run / run.TABLES / "evaluation.csv"
    if table.is_file():
        from .evaluate import COLUMNS
        frame = pd.read_csv(table)
        parts.append("<h2>Every decoder (<code>stickpose evaluate</code>)</h2>")
        for (name, occlusion), rows in frame.groupby(["set", "occlusion"], sort=False):
            shown = [c for c in COLUMNS if c in rows and rows[c].notna().any()]
            parts += [f"<h3>{html.escape(name)}"
                      + ("" if occlusion == "none" else f", occlusion {html.escape(occlusion)}")
                      + "</h3>", _table(rows[shown].rename(columns=COLUMNS))]
    parts += ["<h2>Leaderboard</h2>", _leaderboard_position(config, engine)]
    parts.append("<h2>Pictures</h2>")
    for name, caption in PICTURES:
        path = run / run.SHOW / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<figure><img alt='{html.escape(caption)}' "
                         f"src='data:image/png;base64,{data}'><figcaption>"
                         f"{html.escape(caption)}</figcaption></figure>")
    parts += [CHECK, "</body></html>"]
    return "\n".join(parts)


def write_report(run: Path, out: Path | None, open_engine) -> Path:
    """Make the run's pictures if ``RUN/show/`` is missing (on 200 images of its suite's
    test1), then write the page atomically to ``out`` [``RUN/report.html``]; its
    leaderboard position comes from the results store that ``open_engine()`` opens (once
    the run is known to be sound, before any picture is made)."""
    from .show import show_folder, show_run

    config, _ = load_run(run)
    engine = open_engine()
    run = RunDir(run)
    out = Path(out) if out else check_output(run / run.REPORT, "file", ".html", "report")
    if (run / run.EVALUATION).is_file():
        run.evaluation()                          # unreadable: an error before any picture
    if not (run / run.SHOW).is_dir():
        show_folder(run.path)
        images, truth, _ = render_set(suite_set(load_run_suite(config), "test1",
                                                "the report's pictures"), 200)
        show_run(run.path, images, truth)
    write_atomic(out, build_report(run.path, engine).encode())
    return out
