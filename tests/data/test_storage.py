import hashlib
import json

import cv2
import numpy as np
import pytest

from stickpose.data.stickman import StickmanConfig, StickmanGenerator
from stickpose.data.storage import (DatasetError, load_dataset, write_dataset, write_suite)
from stickpose.data.suites import load_suite
from stickpose.errors import StickposeError


def _files(path):
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def written(tmp_path_factory, ):
    config = StickmanConfig(size=48, circles=0.5, squares=0.3, backgrounds=0.5, occluders=0.3)
    root = tmp_path_factory.mktemp("datasets")
    path = write_dataset(root / "a", config, seed=11, count=70)
    return config, path


def test_layout_and_round_trip(written):
    config, path = written
    assert sorted(p.name for p in path.iterdir()) == [
        "annotations.json", "images", "keypoints.npy", "meta.json", "visible.npy"]
    dataset = load_dataset(path)
    assert len(dataset) == 70 and len(list((path / "images").glob("*.png"))) == 70
    generator = StickmanGenerator(config, 11)
    images, keypoints, visible = generator.chunk(1)
    np.testing.assert_array_equal(dataset.keypoints[64:], keypoints[:6])
    np.testing.assert_array_equal(dataset.visible[64:], visible[:6])
    np.testing.assert_array_equal(dataset.image(65), images[1])      # lossless PNG, RGB
    assert dataset.keypoints.dtype == np.float32 and dataset.visible.dtype == bool


def test_meta_records_config_seed_version_and_hash(written):
    config, path = written
    meta = json.loads((path / "meta.json").read_text())
    assert meta["seed"] == 11 and meta["count"] == 70
    assert meta["config"]["circles"] == 0.5 and meta["config"]["size"] == 48
    assert meta["stickpose_version"]
    digest = hashlib.sha256()
    for k in range(70):
        digest.update(hashlib.sha256((path / f"images/{k:06d}.png").read_bytes()).digest())
    digest.update((path / "keypoints.npy").read_bytes())
    digest.update((path / "visible.npy").read_bytes())
    assert meta["content_sha256"] == digest.hexdigest()


def test_coco_annotations_are_valid(written):
    _, path = written
    coco = json.loads((path / "annotations.json").read_text())
    dataset = load_dataset(path)
    assert {"images", "annotations", "categories", "info", "licenses"} <= set(coco)
    (category,) = coco["categories"]
    assert category["id"] == 1 and len(category["keypoints"]) == 16
    assert all(1 <= a <= 16 and 1 <= b <= 16 for a, b in category["skeleton"])
    image_ids = [image["id"] for image in coco["images"]]
    assert image_ids == list(range(1, 71))       # ids from 1: pycocotools ignores id 0
    for image in coco["images"]:
        assert (path / image["file_name"]).is_file()
        assert image["width"] == image["height"] == 48
    ids = set()
    for annotation in coco["annotations"]:
        ids.add(annotation["id"])
        assert annotation["image_id"] in image_ids and annotation["category_id"] == 1
        triples = np.array(annotation["keypoints"], float).reshape(16, 3)
        k = annotation["image_id"] - 1
        np.testing.assert_allclose(triples[:, :2], dataset.keypoints[k], atol=1e-4)
        np.testing.assert_array_equal(triples[:, 2], np.where(dataset.visible[k], 2, 1))
        x, y, w, h = annotation["bbox"]
        assert w >= 0 and h >= 0
        assert np.all(triples[:, 0] >= x - 1e-3) and np.all(triples[:, 0] <= x + w + 1e-3)
        assert annotation["num_keypoints"] == 16 and annotation["iscrowd"] == 0
    assert ids == set(range(1, 71))


def test_same_seed_gives_byte_identical_files_with_any_worker_count(written, tmp_path):
    config, path = written
    again = write_dataset(tmp_path / "b", config, seed=11, count=70, workers=2)
    assert _files(again) == _files(path)


def test_image_i_does_not_depend_on_the_count(written, tmp_path):
    config, path = written
    shorter = load_dataset(write_dataset(tmp_path / "s", config, seed=11, count=10))
    np.testing.assert_array_equal(shorter.keypoints, load_dataset(path).keypoints[:10])


def test_refuses_to_overwrite_unless_asked(written, tmp_path):
    config, _ = written
    target = write_dataset(tmp_path / "c", config, seed=1, count=3)
    before = _files(target)
    with pytest.raises(DatasetError, match="already holds a dataset; pass --overwrite"):
        write_dataset(target, config, seed=2, count=3)
    assert _files(target) == before
    write_dataset(target, config, seed=2, count=3, overwrite=True)
    assert _files(target) != before and load_dataset(target).meta["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]     # no leftovers


def test_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not an empty folder"):
        write_dataset(tmp_path, StickmanConfig(size=32), seed=0, count=1, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_interrupted_run_leaves_nothing_that_looks_complete(tmp_path):
    def interrupt(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "d", StickmanConfig(size=32), seed=0, count=200,
                      progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_of_a_killed_run_is_cleaned(tmp_path):
    stale = tmp_path / ".e.partial-999999999"
    (stale / "images").mkdir(parents=True)
    write_dataset(tmp_path / "e", StickmanConfig(size=32), seed=0, count=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]


def test_dataset_of_a_run_killed_while_swapping_is_restored(tmp_path):
    config = StickmanConfig(size=32)
    target = write_dataset(tmp_path / "g", config, seed=0, count=2)
    before = _files(target)
    target.rename(tmp_path / ".g.old-999999999")             # killed between the renames
    with pytest.raises(DatasetError, match="already holds a dataset"):
        write_dataset(target, config, seed=1, count=2)
    assert _files(target) == before


def test_write_suite_checks_every_set_before_writing(tmp_path):
    (tmp_path / "bad.toml").write_text(
        "[defaults]\nsize = 32\ncount = 2\n[sets.fine]\nseed = 1\n"
        "[sets.broken]\nseed = 2\nbackgrounds = 1.0\nbackground_dir = 'nowhere'\n")
    with pytest.raises(StickposeError, match="nowhere does not exist"):
        write_suite(load_suite(str(tmp_path / "bad.toml")), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_load_rejects_non_datasets(tmp_path):
    with pytest.raises(DatasetError, match="not a stickpose dataset"):
        load_dataset(tmp_path)
    path = write_dataset(tmp_path / "f", StickmanConfig(size=32), seed=0, count=2)
    np.save(path / "keypoints.npy", np.zeros((2, 14, 2), np.float32))
    with pytest.raises(DatasetError, match=r"shape \(2, 14, 2\); expected \(N, 16, 2\)"):
        load_dataset(path)


def test_write_suite_checks_every_target_first(tmp_path):
    suite = load_suite("stickman")
    write_dataset(tmp_path / "test3", StickmanConfig(size=32), seed=0, count=1)
    with pytest.raises(DatasetError, match="test3 already holds a dataset"):
        write_suite(suite, tmp_path, size=32, count=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test3"]     # nothing written
    paths = write_suite(suite, tmp_path, size=32, count=2, overwrite=True)
    assert list(paths) == ["test1", "test2", "test3", "test4", "validation"]
    test4 = load_dataset(paths["test4"])
    assert test4.meta["seed"] == suite.sets["test4"].seed and test4.meta["name"] == "stickman/test4"
    assert test4.meta["config"]["backgrounds"] == 1.0 and test4.meta["config"]["size"] == 32
    assert cv2.imread(str(test4.image_path(0))).shape == (32, 32, 3)
