"""COCO for real: stickpose's files scored by pycocotools itself, OKS AP in evaluations,
predictions out as COCO results, COCO datasets in (16 joints, or COCO's 17 mapped)."""
import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from stickpose.data.coco import COCO17_NAMES
from stickpose.metrics import OKS_SIGMAS, oks_ap
from stickpose.runs import TrainConfig
from stickpose.skeleton import JOINT_NAMES
from stickpose.training import train
from tests.cli_helpers import fails_with, invoke, ok

TINY = dict(arch="resnet", input_size=32, width=8, batch_size=8, steps_per_epoch=3,
            epochs=1, validation_count=16, test_count=16)


def cocoeval(annotations, results) -> np.ndarray:
    """pycocotools' keypoint evaluation of two files (or documents), with stickpose's
    sigmas: its ``stats`` (AP, AP50, AP75, APm, APl, AR, ...)."""
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        found = truth.loadRes(str(results) if not isinstance(results, list) else results)
        evaluation = COCOeval(truth, found, "keypoints")
        evaluation.params.kpt_oks_sigmas = OKS_SIGMAS
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats


def as_results(annotations: dict, moved=(), scores=None, only=None) -> list:
    """The file's own keypoints as results: annotation k moved 60 px if k in ``moved``,
    scored ``scores[k]`` (default 1), for the images in ``only`` (default all)."""
    entries = []
    for k, annotation in enumerate(annotations["annotations"]):
        if only is not None and k not in only:
            continue
        triples = np.reshape(annotation["keypoints"], (-1, 3)).astype(float)
        if k in moved:
            triples[:, :2] += 60.0
        entries.append({"image_id": annotation["image_id"], "category_id": 1,
                        "keypoints": triples.ravel().tolist(),
                        "score": 1.0 if scores is None else float(scores[k])})
    return entries


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("coco") / "set"
    ok(invoke("generate", "--out", out, "--count", 10, "--size", 224, "--seed", 4))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "heatmap"
    train(TrainConfig(head="heatmap", **TINY), path, verbose=0)
    return path


# --- pycocotools on what stickpose writes ---------------------------------------------------

def test_cocoeval_scores_a_set_with_its_own_truth_perfectly(dataset, tmp_path):
    annotations = json.loads((dataset / "annotations.json").read_text())
    assert [image["id"] for image in annotations["images"]] == list(range(1, 11))
    stats = cocoeval(dataset / "annotations.json", as_results(annotations))
    assert stats[0] == 1.0 and stats[5] == 1.0                      # AP and AR
    # the bug this guards against: with ids from 0, the first image never matches
    shifted = json.loads(json.dumps(annotations))
    for entry in shifted["images"] + shifted["annotations"]:
        entry["id"] -= 1
    for annotation in shifted["annotations"]:
        annotation["image_id"] -= 1
    (tmp_path / "zero.json").write_text(json.dumps(shifted))
    stats = cocoeval(tmp_path / "zero.json", as_results(shifted))
    assert stats[0] < 1.0 and stats[5] < 1.0


def _recall_points(recall: float) -> float:
    """COCO's 101-point interpolated AP of a ranking that finds ``recall`` of the people
    with precision 1 first and nothing after: the share of recall thresholds reached."""
    return float(np.sum(np.linspace(0, 1, 101) <= recall) / 101)


def test_cocoeval_of_perturbed_and_partial_predictions_is_the_ap_computed_by_hand(dataset):
    annotations = json.loads((dataset / "annotations.json").read_text())
    path = dataset / "annotations.json"
    moved = (2, 5, 7)                                        # 60 px off: OKS ~ 0
    ranked = [0.1 if k in moved else 0.9 for k in range(10)]
    stats = cocoeval(path, as_results(annotations, moved, ranked))
    assert stats[0] == pytest.approx(_recall_points(0.7))           # 70 of 101 points
    assert stats[1] == pytest.approx(_recall_points(0.7)) and stats[5] == pytest.approx(0.7)
    # the misses ranked first: precision 7/10 at every recall reached
    reversed_ = [0.9 if k in moved else 0.1 for k in range(10)]
    stats = cocoeval(path, as_results(annotations, moved, reversed_))
    assert stats[0] == pytest.approx(0.7 * _recall_points(0.7))
    # partial: results for 6 images only, all exact
    stats = cocoeval(path, as_results(annotations, only={0, 1, 3, 4, 6, 8}))
    assert stats[0] == pytest.approx(_recall_points(0.6)) and stats[5] == pytest.approx(0.6)
    # stickpose's own AP (metrics.oks_ap) is pycocotools' on the same arrays
    truth = np.array([np.reshape(a["keypoints"], (-1, 3))[:, :2]
                      for a in annotations["annotations"]])
    predicted = truth + np.where(np.isin(np.arange(10), moved)[:, None, None], 60.0, 0.0)
    assert oks_ap(predicted, truth, np.array(ranked))["ap"] == pytest.approx(
        _recall_points(0.7))
    assert oks_ap(truth, truth) == {"ap": 1.0, "ap50": 1.0, "ap75": 1.0, "ar": 1.0}


# --- OKS AP in evaluations and predictions out -----------------------------------------------

def test_evaluate_reports_ap_records_it_and_saves_coco_predictions(run, tmp_path):
    out = tmp_path / "tables"
    output = ok(invoke("evaluate", run, "--sets", "test1", "--count", 12, "--decoders",
                       "quarter,dark", "--save-predictions", "--out", out))
    table = pd.read_csv(out / "evaluation.csv").set_index("decoder")
    assert {"ap", "ap50", "ap75", "ar"} <= set(table)
    assert table["ap"].between(0, 1).all() and "OKS AP" in output
    folder = out / "predictions"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test1-dark.results.json", "test1-quarter.results.json", "test1.annotations.json"]
    for decoder in ("quarter", "dark"):
        stats = cocoeval(folder / "test1.annotations.json",
                         folder / f"test1-{decoder}.results.json")
        assert stats[0] == pytest.approx(table.loc[decoder, "ap"], abs=1e-9)
        assert stats[5] == pytest.approx(table.loc[decoder, "ar"], abs=1e-9)
    board = ok(invoke("leaderboard", "--metric", "ap"))
    assert "COCO keypoint AP" in board and "higher is better" in board


def test_a_coco_file_evaluates_as_the_dataset_it_describes(run, dataset, tmp_path):
    ok(invoke("evaluate", run, "--dataset", dataset, "--decoders", "quarter", "--out",
              tmp_path / "folder"))
    ok(invoke("evaluate", run, "--dataset", f"coco:{dataset / 'annotations.json'}",
              "--decoders", "quarter", "--out", tmp_path / "coco", "--save-predictions"))
    folder = pd.read_csv(tmp_path / "folder" / "evaluation.csv").iloc[0]
    coco = pd.read_csv(tmp_path / "coco" / "evaluation.csv").iloc[0]
    assert coco["set"].startswith("coco:set@")  # annotations.json is named after its folder
    assert folder["set"].startswith("set@") and folder["set"][3:] != coco["set"][8:]
    for metric in ("pck", "mpjpe", "score", "ap", "ar"):   # labels rounded to 1e-4 px there
        assert coco[metric] == pytest.approx(folder[metric], rel=1e-4, abs=1e-6), metric
    assert "labels observer-centric (recorded in the file)" in coco["note"]
    # the saved results use the file's own ids and pixels: pycocotools agrees
    saved = tmp_path / "coco" / "predictions"
    stem = coco["set"].replace(":", "_").replace("@", "_")
    stats = cocoeval(dataset / "annotations.json", saved / f"{stem}-quarter.results.json")
    assert stats[0] == pytest.approx(coco["ap"], abs=1e-9)
    truth = json.loads((saved / f"{stem}.annotations.json").read_text())
    assert truth["info"]["labels"] == "observer-centric"     # the set's, passed on


def _coco17(dataset):
    """The dataset's annotations rewritten in COCO's 17-keypoint layout (face points
    at the head, hips and shoulders where stickpose has them), images beside the file."""
    document = json.loads((dataset / "annotations.json").read_text())
    index = {name: k for k, name in enumerate(JOINT_NAMES)}
    names = {"left_shoulder": "l_shoulder", "right_shoulder": "r_shoulder",
             "left_elbow": "l_elbow", "right_elbow": "r_elbow", "left_wrist": "l_wrist",
             "right_wrist": "r_wrist", "left_hip": "l_hip", "right_hip": "r_hip",
             "left_knee": "l_knee", "right_knee": "r_knee", "left_ankle": "l_ankle",
             "right_ankle": "r_ankle"}
    for annotation in document["annotations"]:
        ours = np.reshape(annotation["keypoints"], (-1, 3))
        theirs = [ours[index[names[n]]] if n in names else ours[index["head_top"]]
                  for n in COCO17_NAMES]
        annotation["keypoints"] = np.ravel(theirs).tolist()
        annotation["num_keypoints"] = 17
    document["categories"][0]["keypoints"] = list(COCO17_NAMES)
    (dataset / "coco17.json").write_text(json.dumps(document))
    return dataset / "coco17.json"


def test_coco_17_keypoints_are_mapped_and_the_missing_joints_said(run, dataset, tmp_path):
    path = _coco17(dataset)
    output = ok(invoke("evaluate", run, "--dataset", f"coco:{path}", "--decoders", "quarter",
                       "--out", tmp_path / "t"))
    row = pd.read_csv(tmp_path / "t" / "evaluation.csv").iloc[0]
    assert np.isnan(row.get("score", np.nan)) and np.isnan(row["swap"])   # need all 16
    assert 0 <= row["pck"] <= 1 and 0 <= row["ap"] <= 1
    assert row["labelled"] == pytest.approx(14 / 16)
    assert "no image has upper_neck, head_top" in " ".join(output.split())
    section = output.split("## coco:coco17")[1]
    table = next(block for block in section.split("\n\n") if block.startswith("| decoder"))
    assert "class score" not in table and "OKS AP" in table
    assert "coco17.json: COCO 17 keypoints, 10 images letterboxed to 224 px" in section
    fails_with(invoke("evaluate", run, "--dataset", f"coco:{path}", "--occlusion", "upper"),
               "leaves some joints unlabelled; occlusion needs every joint")


def test_a_files_label_convention_is_read_or_said_unknown(run, dataset, tmp_path):
    """The convention stickpose records in ``info.labels`` is read back; a file without it
    is of unknown convention in the report unless --dataset-labels says which, and a
    statement contradicting the file is refused."""
    from stickpose.data.sets import folder_sets

    ours = f"coco:{dataset / 'annotations.json'}"
    assert folder_sets([ours])[0].labels == "observer"
    document = json.loads((dataset / "annotations.json").read_text())
    document["info"]["labels"] = "person-centric"
    (dataset / "person.json").write_text(json.dumps(document))
    assert folder_sets([f"coco:{dataset / 'person.json'}"])[0].person
    del document["info"]["labels"]
    (dataset / "foreign.json").write_text(json.dumps(document))
    foreign = f"coco:{dataset / 'foreign.json'}"
    assert folder_sets([foreign])[0].labels is None
    assert folder_sets([foreign], labels="person")[0].person
    output = ok(invoke("evaluate", run, "--dataset", foreign, "--decoders", "argmax",
                       "--out", tmp_path / "t"))
    assert "left/right convention unknown (the file records none): predictions are not " \
           "relabelled; say --dataset-labels person" in " ".join(output.split())
    output = ok(invoke("evaluate", run, "--dataset", foreign, "--dataset-labels", "observer",
                       "--decoders", "argmax", "--out", tmp_path / "t"))
    assert "labels observer-centric (as --dataset-labels says" in " ".join(output.split())
    fails_with(invoke("evaluate", run, "--dataset", ours, "--dataset-labels", "person"),
               "records observer-centric labels (info.labels); --dataset-labels person says "
               "otherwise")
    fails_with(invoke("evaluate", run, "--dataset", dataset, "--dataset-labels", "person"),
               "dataset folders and class sets record their own")
    fails_with(invoke("evaluate", run, "--dataset-labels", "person"),
               "the suite's sets record their own")
    document["info"]["labels"] = "left"
    (dataset / "odd.json").write_text(json.dumps(document))
    fails_with(invoke("evaluate", run, "--dataset", f"coco:{dataset / 'odd.json'}"),
               'info.labels is "left"; expected person-centric or observer-centric')


# --- bad input ------------------------------------------------------------------------------

def test_bad_coco_files_are_named(run, dataset, tmp_path):
    document = json.loads((dataset / "annotations.json").read_text())
    document["categories"][0]["keypoints"] = [f"k{i}" for i in range(13)]
    (tmp_path / "thirteen.json").write_text(json.dumps(document))
    fails_with(invoke("evaluate", run, "--dataset", f"coco:{tmp_path / 'thirteen.json'}"),
               "has 13 keypoints (k0, k1, k2, ...); stickpose reads its own 16 joints")
    fails_with(invoke("evaluate", run, "--dataset", f"coco:{tmp_path / 'none.json'}"),
               "no such file")
    # results that do not fit the ground truth: each names the first offending id
    annotations = json.loads((dataset / "annotations.json").read_text())
    results = as_results(annotations)
    results[3]["image_id"] = 99
    (tmp_path / "r.json").write_text(json.dumps(results))
    fails_with(invoke("evaluate", "--predictions", tmp_path / "r.json", "--dataset", dataset),
               "have results for image id 99, which the dataset does not have (its ids "
               "run 1..10)")
    (tmp_path / "r.json").write_text(json.dumps(as_results(annotations, only={0, 1})))
    fails_with(invoke("evaluate", "--predictions", tmp_path / "r.json", "--dataset", dataset),
               "have no results for image id 3")
    fails_with(invoke("evaluate", run, "--predictions", tmp_path / "r.json",
                      "--save-predictions"), "--predictions already are keypoints")


def test_a_coco_files_own_scales_ids_and_names_are_what_counts(run, dataset, tmp_path):
    """AP on a user's file is COCOeval's on it: its areas and its id order (ties), and a
    17-keypoint category is read by name, not by position."""
    document = json.loads((dataset / "annotations.json").read_text())
    for annotation in document["annotations"]:
        annotation["area"] *= 0.4
    for k, entry in enumerate(document["images"]):               # ids in reverse order
        entry["id"] = 100 - k
    for k, annotation in enumerate(document["annotations"]):
        annotation["image_id"] = 100 - k
    (dataset / "scaled.json").write_text(json.dumps(document))
    ok(invoke("evaluate", run, "--dataset", f"coco:{dataset / 'scaled.json'}", "--decoders",
              "quarter", "--out", tmp_path / "t", "--save-predictions"))
    row = pd.read_csv(tmp_path / "t" / "evaluation.csv").iloc[0]
    results_file, = (tmp_path / "t" / "predictions").glob("coco_scaled_*-quarter.results.json")
    stats = cocoeval(dataset / "scaled.json", results_file)
    assert stats[0] == pytest.approx(row["ap"], abs=1e-9)
    assert stats[5] == pytest.approx(row["ar"], abs=1e-9)
    saved = json.loads(results_file.read_text())
    # the same category with its 17 names shuffled gives the same numbers
    path = _coco17(dataset)
    shuffled = json.loads(path.read_text())
    names = shuffled["categories"][0]["keypoints"]
    order = list(range(17))
    order[5], order[6] = 6, 5                                   # shoulders swapped
    shuffled["categories"][0]["keypoints"] = [names[i] for i in order]
    for annotation in shuffled["annotations"]:
        triples = np.reshape(annotation["keypoints"], (-1, 3))
        annotation["keypoints"] = triples[order].ravel().tolist()
    (dataset / "shuffled.json").write_text(json.dumps(shuffled))
    for name in ("coco17", "shuffled"):
        ok(invoke("evaluate", run, "--dataset", f"coco:{dataset / (name + '.json')}",
                  "--decoders", "quarter", "--out", tmp_path / name))
    first, second = (pd.read_csv(tmp_path / n / "evaluation.csv").iloc[0]
                     for n in ("coco17", "shuffled"))
    for metric in ("pck", "ap", "mpjpe"):
        assert first[metric] == pytest.approx(second[metric]), metric
    assert saved and all(entry["category_id"] == 1 for entry in saved)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["images"][1].update(id=d["images"][0]["id"]), "image id 1 appears twice"),
    (lambda d: d["images"][0].update(id="img0"), 'image id "img0" is not an integer id'),
    (lambda d: d.update(categories=["person"]), "has no categories list of objects"),
    (lambda d: d["annotations"][0].update(keypoints="abc"),
     "annotation 1 has no list of numbers as keypoints"),
    (lambda d: [a.update(keypoints=[0] * 48) for a in d["annotations"]],
     "has no image with exactly one annotated person with a labelled joint"),
    (lambda d: d["categories"][0].update(keypoints=[f"p{i}" for i in range(17)]),
     "has 17 keypoints (p0, p1, p2, ...); stickpose reads its own 16 joints"),
])
def test_malformed_coco_files_get_one_line(run, dataset, tmp_path, edit, message):
    document = json.loads((dataset / "annotations.json").read_text())
    edit(document)
    (dataset / "bad.json").write_text(json.dumps(document))
    out = tmp_path / "out"
    fails_with(invoke("evaluate", run, "--dataset", dataset, "--dataset",
                      f"coco:{dataset / 'bad.json'}", "--save-predictions", "--out", out),
               message)
    assert not (out / "predictions").exists()     # the first set's files are not left
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")] if \
        out.exists() else True


def test_tied_scores_rank_in_the_files_id_order_as_cocoeval_does(dataset, tmp_path):
    import shutil
    folder = tmp_path / "reversed"
    shutil.copytree(dataset, folder)
    document = json.loads((folder / "annotations.json").read_text())
    for k, (entry, annotation) in enumerate(zip(document["images"], document["annotations"])):
        entry["id"] = annotation["image_id"] = 50 - k
    (folder / "annotations.json").write_text(json.dumps(document))
    results = as_results(document, moved=(0, 1, 2))            # all scored 1.0: ties
    (tmp_path / "r.json").write_text(json.dumps(results))
    ok(invoke("evaluate", "--predictions", tmp_path / "r.json", "--dataset", folder,
              "--out", tmp_path / "t"))
    row = pd.read_csv(tmp_path / "t" / "evaluation.csv").iloc[0]
    stats = cocoeval(folder / "annotations.json", tmp_path / "r.json")
    assert row["ap"] == pytest.approx(stats[0], abs=1e-9)
    # the misses have the highest ids, so COCOeval ranks them last: the order matters
    assert stats[0] == pytest.approx(_recall_points(0.7))
