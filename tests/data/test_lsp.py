import numpy as np
import pytest
from scipy.io import savemat

from stickpose.data.lsp import (LspError, crop, crop_matrix, find_lsp, from_skeleton,
                                infer_labels, lsp_pose_bank, lsp_splits, lsp_stream,
                                read_joints, to_skeleton, uncrop)
from stickpose.skeleton import FLIP_INDEX
from tests.lsp_fixture import write_lsp


@pytest.fixture(scope="module")
def lsp_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp")
    truth = write_lsp(root / "lsp_dataset", 2000)
    extended = write_lsp(root / "lspet_dataset", 30, "lspet", seed=1)
    return root, truth, extended


def test_both_layouts_and_their_visibility_flags(lsp_folder):
    root, truth, extended = lsp_folder
    lsp = read_joints(root / "lsp_dataset" / "joints.mat")
    assert lsp.variant == "lsp" and lsp.keypoints.shape == (2000, 14, 2)
    np.testing.assert_allclose(lsp.keypoints, truth)             # 1-based on disk
    assert not lsp.visible[0, 11] and lsp.visible[1].all()       # LSP: flag 1 = occluded
    lspet = read_joints(root / "lspet_dataset" / "joints.mat")
    assert lspet.variant == "lspet" and lspet.keypoints.shape == (30, 14, 2)
    np.testing.assert_allclose(lspet.keypoints, extended)
    assert not lspet.visible[0, 11] and lspet.visible[1].all()   # LSPET: flag 1 = visible
    assert "LSP-extended (14 x 3 x N, flag 1 = visible)" in lspet.describe()


def test_malformed_files_name_the_expected_layout(tmp_path):
    with pytest.raises(LspError, match="does not exist; expected LSP: joints.mat"):
        read_joints(tmp_path / "joints.mat")
    savemat(str(tmp_path / "wrong.mat"), {"joints": np.zeros((2, 14, 5))})
    with pytest.raises(LspError, match=r"has shape \(2, 14, 5\); expected 3 x 14 x N .*"
                                       r"sam.johnson.io"):
        read_joints(tmp_path / "wrong.mat")
    savemat(str(tmp_path / "other.mat"), {"poses": np.zeros((3, 14, 5))})
    with pytest.raises(LspError, match="no variable `joints` \\(it has poses\\)"):
        read_joints(tmp_path / "other.mat")
    (tmp_path / "broken.mat").write_text("not a mat file")
    with pytest.raises(LspError, match="cannot read .* as a MATLAB file"):
        read_joints(tmp_path / "broken.mat")
    with pytest.raises(LspError, match="holds no joints.mat"):
        find_lsp(tmp_path)


def test_fourteen_to_sixteen_and_back():
    keypoints = np.arange(2 * 14 * 2, dtype=float).reshape(2, 14, 2)
    visible = np.ones((2, 14), bool)
    visible[1, 2] = False                                         # a hip hidden
    points, seen = to_skeleton(keypoints, visible)
    np.testing.assert_array_equal(from_skeleton(points), keypoints)
    np.testing.assert_allclose(points[:, 6], (keypoints[:, 2] + keypoints[:, 3]) / 2)  # pelvis
    np.testing.assert_allclose(points[:, 7], (keypoints[:, 8] + keypoints[:, 9]) / 2)  # thorax
    np.testing.assert_allclose(points[:, 8], keypoints[:, 12])   # neck -> upper neck
    np.testing.assert_allclose(points[:, 9], keypoints[:, 13])   # head top
    np.testing.assert_allclose(points[:, 10], keypoints[:, 6])   # r_wrist
    assert seen[0].all() and not seen[1, 6] and seen[1, 7] and not seen[1, 2]


def test_label_convention_is_inferred():
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 100, (200, 14, 2))
    keypoints[:, [8, 2], 0] = 10                                  # "right" on the image's left
    keypoints[:, [9, 3], 0] = 90
    assert infer_labels(keypoints) == "observer"
    keypoints[:70, [8, 2], 0], keypoints[:70, [9, 3], 0] = 90, 10  # 35 % seen from behind
    assert infer_labels(keypoints) == "person"


def test_crop_round_trip_flip_and_outside_joints():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (120, 90, 3), np.uint8)
    keypoints = rng.uniform(20, 70, (16, 2)).astype(np.float32)
    visible = np.ones(16, bool)
    matrix = crop_matrix(keypoints, visible, 64, scale=0.8, rotation=20, shift=(0.02, -0.03))
    patch, points, seen = crop(image, keypoints, visible, matrix, 64)
    assert patch.shape == (64, 64, 3) and seen.all()
    np.testing.assert_allclose(uncrop(points, matrix), keypoints, atol=1e-3)
    # a bright pixel lands where the transform says
    marked = np.zeros_like(image)
    x, y = np.rint(keypoints[0]).astype(int)
    marked[y - 1:y + 2, x - 1:x + 2] = 255
    spot = crop(marked, keypoints, visible, matrix, 64)[0][..., 0].astype(float)
    ys, xs = np.nonzero(spot > 0)
    centre = np.average(np.stack([xs, ys], 1), axis=0, weights=spot[ys, xs])
    np.testing.assert_allclose(centre, matrix[:, :2] @ [x, y] + matrix[:, 2], atol=0.6)
    # mirrored: left and right swap
    flipped = crop_matrix(keypoints, visible, 64, flip=True)
    _, mirrored, _ = crop(image, keypoints, visible, flipped, 64, flip=True)
    np.testing.assert_allclose(mirrored, (keypoints @ flipped[:, :2].T + flipped[:, 2])
                               [list(FLIP_INDEX)], atol=1e-4)
    # zoomed in: the outer joints leave the crop and stop counting
    _, _, seen = crop(image, keypoints, visible, crop_matrix(keypoints, visible, 64, 3.0), 64)
    assert 0 < seen.sum() < 16


def test_splits_follow_the_extended_protocol(lsp_folder, tmp_path):
    root, truth, _ = lsp_folder
    splits = lsp_splits(root)
    assert {k: len(v) for k, v in splits.items()} == {"train": 930, "validation": 100,
                                                       "test": 1000}
    assert splits["test"].paths[0].endswith("im1001.jpg")
    assert splits["validation"].paths[-1].endswith("im1000.jpg")
    assert splits["train"].paths[-1].endswith("im00030.jpg")
    np.testing.assert_allclose(from_skeleton(splits["test"].keypoints), truth[1000:], atol=1e-4)
    only_lsp = lsp_splits(root / "lsp_dataset")
    assert len(only_lsp["train"]) == 900
    # a missing image is named
    broken = tmp_path / "broken"
    write_lsp(broken, 2000)
    (broken / "images" / "im1500.jpg").unlink()
    with pytest.raises(LspError, match="1 of 1000 images are missing .*im1500.jpg"):
        lsp_splits(broken)
    with pytest.raises(LspError, match="LSP-extended but not LSP itself"):
        lsp_splits(root / "lspet_dataset")


def test_stream_is_seeded_and_masks_what_left_the_crop(lsp_folder):
    split = lsp_splits(lsp_folder[0])["train"]
    first = next(iter(lsp_stream(split, 32, seed=3, batch_size=16)))
    again = next(iter(lsp_stream(split, 32, seed=3, batch_size=16)))
    other = next(iter(lsp_stream(split, 32, seed=4, batch_size=16)))
    assert first["image"].shape == (16, 32, 32, 3) and first["keypoints"].shape == (16, 16, 2)
    np.testing.assert_array_equal(first["image"].numpy(), again["image"].numpy())
    assert not np.array_equal(first["image"].numpy(), other["image"].numpy())
    points, seen = first["keypoints"].numpy(), first["visible"].numpy()
    inside = ((points > -0.5) & (points < 31.5)).all(-1)
    assert not (seen & ~inside).any()                            # outside -> not visible
    skipped = next(iter(lsp_stream(split, 32, seed=3, batch_size=8, start=8)))
    np.testing.assert_array_equal(skipped["image"].numpy(), first["image"].numpy()[8:])


def test_the_workers_shards_make_the_single_stream(lsp_folder):
    split = lsp_splits(lsp_folder[0])["train"]

    def batches(shard):
        stream = lsp_stream(split, 32, seed=3, batch_size=8, start=16, shard=shard)
        return [b["image"].numpy() for b, _ in zip(stream, range(2))]
    single, parts = batches((0, 1)), [batches((i, 2)) for i in range(2)]
    for step in range(2):
        np.testing.assert_array_equal(np.concatenate([p[step] for p in parts]), single[step])


def test_lsp_pose_bank(lsp_folder):
    poses, skipped = lsp_pose_bank(lsp_folder[0])
    # every LSP pose, and the LSPET poses whose joints are all visible (1 in 10 is not)
    assert poses.shape == (2000 + 27, 16, 2) and skipped == 3
