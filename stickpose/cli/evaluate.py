"""``stickpose evaluate`` and ``stickpose decoders``."""
from __future__ import annotations

from pathlib import Path

import click

PROTOCOLS = ("intended", "class-as-written")

from .common import (CLASS_DIR_OPTION, DB_OPTION, FLIP_OPTION, POSITIVE, SEED, OutputPath,
                     RunPath, open_results_store, parse_names, progress_bars, say_lsp,
                     user_errors)


@click.command()
@click.argument("run", required=False, type=RunPath())
@click.option("--suite", help="Suite (name or .toml) whose sets are evaluated [the run's own: "
              "stickman, or class for a run trained with --suite class].")
@CLASS_DIR_OPTION
@click.option("--sets", default="test1,test2,test3,test4", show_default=True,
              help="Comma-separated set names of the suite.")
@click.option("--dataset", "datasets", multiple=True, type=click.Path(),
              help="Evaluate on a dataset folder (from `stickpose generate`, or a set in the "
                   "class's layout: ROOT/Test1 or class:ROOT/Test1) or coco:FILE.json (a COCO "
                   "keypoints file: stickpose's 16 joints or COCO's 17, images beside it or "
                   "in images/) instead of the suite's sets; repeatable. Results name it "
                   "NAME@HASH (its name, a hash of where it is).")
@click.option("--dataset-labels", type=click.Choice(["observer", "person"]),
              help="Left/right convention of --dataset coco: files that record none (COCO's "
                   "own sets are person-centric): person relabels the run's predictions "
                   "with its handedness classifier, as on the class's sets [unknown: not "
                   "relabelled, and the report says so].")
@click.option("--data", help="lsp:DIR: evaluate on LSP's test images (1001-2000) with the LSP "
              "benchmark (PCK@0.2 per part, AUC, strict PCP) as well.")
@click.option("--decoders", default="all", show_default=True,
              help="'all' or a comma-separated list (see `stickpose decoders`); 'all' skips "
                   "the slow gmm-sklearn reference and an untrained fc.")
@click.option("--occlusion", default="none", show_default=True,
              help="Comma-separated: none, random (random erasing), upper, lower (body half "
                   "blacked out), or all.")
@click.option("--count", type=POSITIVE, help="Images per set [all of them].")
@click.option("--sigma", type=click.FloatRange(min=0.1),
              help="Spread (heatmap px) of DARK's blur and soft-argmax's window [the run's "
                   "training sigma].")
@click.option("--batch-size", type=POSITIVE, default=64, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the random erasing.")
@click.option("--predictions", type=click.Path(path_type=Path),
              help="Score keypoints made by another tool instead of a run: .npy (N,16,2) "
                   "or COCO results .json (image ids as in the dataset's annotations.json), "
                   "against one --dataset folder.")
@click.option("--model", type=click.Path(path_type=Path),
              help="Score an exported model instead of a run (`stickpose export`: an export "
                   "folder, SavedModel folder or .tflite file) on the same sets; its results "
                   "are not recorded in the store.")
@click.option("--out", type=OutputPath("folder"),
              help="Folder for evaluation.csv and evaluation.md [RUN/evaluation; none for "
                   "--model and --predictions].")
@click.option("--save-predictions", is_flag=True,
              help="Also write each set's keypoints as COCO files to OUT/predictions/: "
                   "SET-DECODER.results.json beside SET.annotations.json (the ground truth, "
                   "same image ids), in the images' own pixels, for pycocotools.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="intended",
              show_default=True,
              help="How the class score is computed. intended: as the class meant it "
                   "(|label - prediction| / 224 over the coordinates whose label is > 0; "
                   "stickpose's score everywhere). class-as-written: also as the class's "
                   "evaluation_test/test.py computed it, read literally (int64 labels, so "
                   "only a coordinate equal to 224 counts; files paired with labels in "
                   "string order; bilinear resize), the protocol of the class's published "
                   "scores. Sets in the class's layout and class suites get both anyway.")
@FLIP_OPTION
@DB_OPTION
@user_errors
def evaluate(run, suite, class_dir, sets, datasets, dataset_labels, data, decoders, occlusion,
             count, sigma, batch_size, seed, predictions, model, out, save_predictions,
             protocol, flip):
    """Score a trained run with every decoder on the same heatmaps (seed 000's table per
    set: PCK, MSE, MPJPE, class score, swaps, COCO's OKS AP/AP50/AP75/AR through
    pycocotools, timings), optionally under occlusion.

    \b
    stickpose evaluate runs/RUN                          test1-test4, every decoder
    stickpose evaluate runs/RUN --occlusion all          plus the occlusion experiments
    stickpose evaluate --predictions P.npy --dataset D   keypoints from another tool
    stickpose evaluate runs/RUN --suite class --class-dir DIR   the class's test1-test4
    stickpose evaluate runs/RUN --dataset Dataset/Test1  a set in the class's layout
    stickpose evaluate --model runs/RUN/export/quarter-tflite   an exported model
    stickpose evaluate runs/RUN --save-predictions       + COCO results for pycocotools
    stickpose evaluate runs/RUN --dataset coco:FILE.json a COCO keypoints file (16 or 17)
    stickpose evaluate runs/RUN --dataset class:Dataset/Test1 --protocol class-as-written
    stickpose evaluate runs/RUN --flip                   test-time flip averaging
                                                         (recorded with params "flip")
    """
    from ..data.occlusion import OCCLUSIONS
    from ..evaluate import PredictionFiles, report, write_tables
    from ..files import check_output
    from ..leaderboard.store import where
    from ..runs import RunDir

    kinds = parse_names(occlusion, ("none",) + OCCLUSIONS, "--occlusion")
    names = [n.strip() for n in sets.split(",") if n.strip()]
    if not names:
        raise click.BadParameter(f"{sets!r} names no set", param_hint="--sets")
    if out is None and run is not None and not (predictions or model):
        out = check_output(RunDir(run) / RunDir.TABLES)
    keep = None
    if save_predictions and out and not (predictions or data):
        keep = PredictionFiles(out / "predictions")
    as_written = protocol == "class-as-written"
    if as_written and data:
        raise click.UsageError("--protocol class-as-written scores square images labelled "
                               "as the class labels them; --data lsp holds neither")
    try:
        results, title, engine = _evaluate(run, suite, class_dir, names, datasets,
                                           dataset_labels, data, decoders, kinds, count,
                                           sigma, batch_size, seed, predictions, model, out,
                                           save_predictions, keep, as_written, flip)
    except BaseException:
        if keep:
            keep.discard()
        raise
    if out:
        text, paths = write_tables(results, title, out)
    else:
        text, paths = report(results, title), []
    click.echo(text)
    if engine is not None:
        click.echo(f"recorded in {where(str(engine.url))}")
    if paths:
        click.echo(f"tables -> {', '.join(map(str, paths))}")
    if keep:
        click.echo(f"COCO predictions and ground truth -> {keep.finish()}")


def _evaluate(run, suite, class_dir, names, datasets, dataset_labels, data, decoders, kinds,
              count, sigma, batch_size, seed, predictions, model, out, save_predictions, keep,
              as_written, flip):
    """The evaluation ``evaluate`` asked for: ``(results, title, store engine or None)``."""
    from ..evaluate import evaluate_exported, evaluate_lsp_run, evaluate_run, \
        evaluation_sets, run_config, score_predictions
    from ..leaderboard.store import record_results

    engine = None
    if model:
        from ..export import load_exported, read_run_config

        if run or predictions or data:
            raise click.UsageError("--model takes no RUN, --predictions or --data")
        for given, option in ((decoders != "all", "--decoders"), (sigma, "--sigma"),
                              (flip, "--flip")):
            if given:
                raise click.UsageError(f"{option} applies to a run; an export decodes as it "
                                       "was exported (`stickpose export --flip` builds flip "
                                       "averaging in)")
        if save_predictions and out is None:
            raise click.UsageError("--save-predictions with --model needs --out")
        artefact = load_exported(model)
        chosen = evaluation_sets(read_run_config(artefact.meta), suite, class_dir, names,
                                 datasets, count, dataset_labels)
        if any(s.person for s in chosen) and \
                artefact.meta.get("labels", "observer-centric") == "observer-centric":
            click.echo("warning: these sets are labelled person-centric and the export's "
                       "keypoints are observer-centric (a run's handedness classifier is "
                       "not part of an export): left/right swaps count as errors", err=True)
        with progress_bars() as bar:
            step = bar("evaluating", len(chosen) * len(kinds))
            results = evaluate_exported(artefact, chosen, kinds, batch_size, seed,
                                        progress=lambda label: step(1), keep=keep,
                                        as_written=as_written)
        title = f"stickpose evaluate --model {model}"
    elif predictions:
        if save_predictions:
            raise click.UsageError("--save-predictions saves a run's or a --model's "
                                   "keypoints; --predictions already are keypoints")
        if run or len(datasets) != 1:
            raise click.UsageError("--predictions takes exactly one --dataset and no RUN")
        if dataset_labels:
            raise click.UsageError("--dataset-labels applies to coco: files, which "
                                   "--predictions does not score")
        if flip:
            raise click.UsageError("--flip averages a model's outputs; --predictions are "
                                   "keypoints already")
        results = score_predictions(predictions, datasets[0], as_written)
        title = f"{predictions} on {datasets[0]}"
    else:
        if run is None:
            raise click.UsageError("give a RUN directory, or --predictions FILE --dataset DIR")
        engine = open_results_store()
        if data:
            if not data.startswith("lsp:"):
                raise click.BadParameter(f"{data!r}: expected lsp:DIR", param_hint="--data")
            if kinds != ["none"]:
                raise click.UsageError("--occlusion applies to stickman sets, not --data lsp")
            for given, option in ((save_predictions, "--save-predictions"),
                                  (dataset_labels, "--dataset-labels")):
                if given:
                    raise click.UsageError(f"{option} applies to the suite's sets and "
                                           "--dataset, not --data lsp")
            say_lsp(data)
            results = evaluate_lsp_run(run, data[4:], decoders, count, batch_size, sigma,
                                       flip)
        else:
            chosen = evaluation_sets(run_config(run), suite, class_dir, names, datasets, count,
                                     dataset_labels)
            with progress_bars() as bar:
                step = bar("evaluating", len(chosen) * len(kinds))
                results = evaluate_run(run, chosen, decoders, kinds, batch_size, seed, sigma,
                                       progress=lambda label: step(1), keep=keep,
                                       as_written=as_written, flip=flip)
        title = f"stickpose evaluate {run}" + (" --flip" if flip else "")
        record_results(engine, run, results)
    return results, title, engine


@click.command("decoders")
def decoders_command():
    """List the heatmap decoders."""
    from ..codecs.decoders import DECODERS

    for name in DECODERS.names():
        click.echo(f"{name:12} {DECODERS.get(name).summary}")
