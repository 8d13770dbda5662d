import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from stickpose.cli import main
from stickpose.data.render import letterbox, to_image
from stickpose.runs import TrainConfig
from stickpose.training import train
from stickpose.viz import JOINT_MARK_RGB, _side, draw_skeleton, mark_keypoints


def test_letterbox_maps_back_to_the_original_pixels():
    image = np.zeros((90, 150, 3), np.uint8)
    image[30, 120] = 255                                    # x 120, y 30
    square, scale, offset = letterbox(image, 64)
    assert square.shape == (64, 64, 3) and scale == pytest.approx(64 / 150)
    np.testing.assert_array_equal(offset, [0, 30])
    # where the bright pixel went in the model input, and back
    ys, xs = np.nonzero(square[..., 0])
    weights = square[ys, xs, 0].astype(float)
    found = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    np.testing.assert_allclose(to_image(found, scale, offset), [120, 30], atol=1.0)


@pytest.mark.parametrize("draw", [mark_keypoints, draw_skeleton])
def test_joints_are_drawn_where_their_coordinates_say(draw):
    """Guards against x/y swaps: each joint sits at a distinct (x, y) with x != y."""
    keypoints = np.array([[20 + 11 * j, 150 - 7 * j] for j in range(16)], float)
    picture = draw(np.zeros((240, 240, 3), np.uint8), keypoints)
    for joint, (x, y) in enumerate(keypoints):
        assert tuple(picture[int(y), int(x)]) == JOINT_MARK_RGB[_side(joint)], joint
    # a swapped drawing would have put joint 0 at row 20, column 150: nothing is there
    assert not picture[20, 150].any()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    train(TrainConfig(arch="resnet", input_size=32, width=8, batch_size=8, steps_per_epoch=2,
                      epochs=1, validation_count=16, test_count=16), run, verbose=0)
    return run


def test_predict_writes_json_and_overlays_and_skips_unreadable(tiny_run, tmp_path):
    image = np.full((80, 120, 3), 30, np.uint8)
    cv2.line(image, (60, 10), (60, 70), (255, 255, 255), 2)
    cv2.imwrite(str(tmp_path / "wide.jpg"), image)
    (tmp_path / "broken.png").write_text("not an image")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "wide.jpg"),
                                       str(tmp_path / "broken.png"), "--run", str(tiny_run),
                                       "--decoder", "dark", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.png" in result.output
    assert "1 of 2 images" in result.output
    saved = json.loads((tmp_path / "out" / "wide.json").read_text())
    assert saved["width"] == 120 and saved["height"] == 80 and saved["decoder"] == "dark"
    assert saved["labels"] == "observer-centric"
    assert [k["name"] for k in saved["keypoints"]][:2] == ["r_ankle", "r_knee"]
    points = np.array([[k["x"], k["y"]] for k in saved["keypoints"]])
    # the model sees a 120 x 120 square (20 px of padding above and below): its keypoints
    # map into that square's frame
    assert (points[:, 0] > -1).all() and (points[:, 0] < 120).all()
    assert (points[:, 1] > -21).all() and (points[:, 1] < 100).all()
    overlay = cv2.imread(str(tmp_path / "out" / "wide.png"))
    assert overlay.shape == (80, 120, 3)


def test_a_sliver_of_an_image_is_predicted_with_a_warning(tiny_run, tmp_path):
    """A 3x200 image fills a sixty-sixth of the square the model sees: its keypoints are
    written, with a warning that they are guesses; a 2:1 image gets none."""
    cv2.imwrite(str(tmp_path / "sliver.png"), np.full((3, 200, 3), 200, np.uint8))
    cv2.imwrite(str(tmp_path / "wide.png"), np.full((50, 100, 3), 200, np.uint8))
    result = CliRunner().invoke(main, ["predict", str(tmp_path), "--run", str(tiny_run),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    warned = " ".join(result.output.split())
    assert "sliver.png is 200x3 px: padded to a square, the picture fills under 1/4" in warned
    assert "wide.png is" not in warned
    assert json.loads((tmp_path / "out" / "sliver.json").read_text())["height"] == 3


def test_same_named_images_do_not_overwrite_each_other(tiny_run, tmp_path):
    for folder, value in (("a", 40), ("b", 200)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "img.png"), np.full((40, 40, 3), value, np.uint8))
    cv2.imwrite(str(tmp_path / "img-2.png"), np.zeros((40, 40, 3), np.uint8))
    result = CliRunner().invoke(main, ["predict", *(str(tmp_path / f) for f in (
        "a/img.png", "b/img.png", "img-2.png")), "--run", str(tiny_run), "--out",
        str(tmp_path / "out")])
    assert result.exit_code == 0 and "3 of 3 images" in result.output, result.output
    written = {p.name: json.loads(p.read_text())["image"]
               for p in (tmp_path / "out").glob("*.json")}
    assert written == {"img.json": str(tmp_path / "a" / "img.png"),
                       "img-3.json": str(tmp_path / "b" / "img.png"),
                       "img-2.json": str(tmp_path / "img-2.png")}
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


def test_a_folder_predicts_its_images_and_nothing_readable_is_an_error(tiny_run, tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / "in" / name), np.full((40, 40, 3), 90, np.uint8))
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "in"), "--run", str(tiny_run),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 0 and "2 of 2 images" in result.output, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.json")) == ["a.json", "b.json"]
    (tmp_path / "bad.png").write_text("not an image")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "bad.png"), "--run",
                                       str(tiny_run), "--out", str(tmp_path / "none")])
    assert result.exit_code == 1 and "none of the 1 input(s) is a readable image" in \
        " ".join(result.output.split())
    assert "WARN" not in result.output and not (tmp_path / "none").exists()


def test_predict_bad_input(tiny_run, tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "x.png"), "--run",
                                       str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "does not exist; train one" in result.output
    scalar = tmp_path / "scalar"
    train(TrainConfig(arch="resnet", head="scalar", input_size=32, width=8, batch_size=8,
                      steps_per_epoch=2, epochs=1, validation_count=16, test_count=16),
          scalar, verbose=0)
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "x.png"), "--run",
                                       str(scalar), "--decoder", "dark"])
    assert result.exit_code == 1 and "has a scalar head that predicts coordinates" in \
        " ".join(result.output.split())
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "x.png"), "--run",
                                       str(tiny_run), "--decoder", "median"])
    assert result.exit_code == 1 and "unknown decoder 'median'" in result.output


def test_show_writes_every_view(tiny_run, tmp_path):
    result = CliRunner().invoke(main, ["show", str(tiny_run), "--n", "4", "--scan", "8",
                                       "--pick", "0,5"])
    assert result.exit_code == 0, result.output
    for name in ("predictions.png", "worst.png", "joint-errors.png", "heatmaps-0.png",
                 "heatmaps-5.png", "gmm-0.png", "gmm-5.png", "curves.png"):
        data = (tiny_run / "show" / name).read_bytes()
        assert data[:4] == b"\x89PNG", name
    sheet = cv2.imread(str(tiny_run / "show" / "predictions.png"))
    assert sheet.shape[0] > 2 * 128                          # truth row above prediction row
    result = CliRunner().invoke(main, ["show", str(tiny_run), "--scan", "8", "--pick", "99"])
    assert result.exit_code == 2 and "image 99 is outside the 16 images" in result.output
    result = CliRunner().invoke(main, ["show", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "does not exist; train one" in result.output


def test_heatmap_view_puts_points_on_their_pixels():
    """The heatmap grid: a hot pixel at column 3, row 12 of a 16 x 16 map (stride 4) is
    drawn at input (13.5, 49.5), exactly where the truth and the decoded points are put."""
    from stickpose.codecs.decoders import decode
    from stickpose.show import heatmap_figure

    maps = np.zeros((16, 16, 16), np.float32)
    maps[12, 3, :] = 1.0
    truth = np.tile([[13.5, 49.5]], (16, 1))
    decoded = decode("argmax", maps[None], 64)[0][0]
    figure = heatmap_figure(np.zeros((64, 64, 3), np.uint8), maps, truth, {"argmax": decoded})
    axis = figure.axes[0]
    image = axis.images[1]
    left, right, bottom, top = image.get_extent()
    row, col = np.unravel_index(np.argmax(image.get_array()), image.get_array().shape)
    stride = (right - left) / image.get_array().shape[1]
    centre = (left + (col + 0.5) * stride, top + (row + 0.5) * stride)
    np.testing.assert_allclose(centre, [13.5, 49.5])
    np.testing.assert_allclose(axis.collections[0].get_offsets()[0], [13.5, 49.5])  # truth
    np.testing.assert_allclose(axis.collections[1].get_offsets()[0], [13.5, 49.5])  # argmax
    import matplotlib.pyplot as plt
    plt.close(figure)


def test_show_and_report_check_their_own_places_before_any_work(tiny_run, tmp_path):
    """``show`` writes to RUN/show and ``report`` to RUN/report.html by default: a file or a
    folder in the way is an error naming it, before any picture is rendered."""
    import shutil

    from stickpose.leaderboard.store import open_store
    from tests.cli_helpers import fails_with, invoke

    open_store(tmp_path / "s.db", create=True)
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("show", "report.html"))
    (run / "show").write_text("my notes")
    fails_with(invoke("show", run), f"pictures folder {run / 'show'} is a file; expected a "
                                    "folder")
    fails_with(invoke("report", run, "--db", tmp_path / "s.db"),
               f"pictures folder {run / 'show'} is a file")
    (run / "show").unlink()
    (run / "report.html").mkdir()
    fails_with(invoke("report", run, "--db", tmp_path / "s.db"),
               f"report {run / 'report.html'} is a folder")
    assert (run / "report.html").is_dir() and not (run / "show").exists()


def test_predict_never_writes_over_its_own_input_images(tiny_run, tmp_path):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "photo.png"), np.full((40, 40, 3), 90, np.uint8))
    before = (tmp_path / "in" / "photo.png").read_bytes()
    for given in (tmp_path / "in" / "photo.png", tmp_path / "in"):
        result = CliRunner().invoke(main, ["predict", str(given), "--run", str(tiny_run),
                                           "--out", str(tmp_path / "in")])
        assert result.exit_code == 1, result.output
        assert "would replace your image" in " ".join(result.output.split())
        assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["photo.png"]
        assert (tmp_path / "in" / "photo.png").read_bytes() == before


def test_a_point_that_is_not_a_number_is_not_drawn():
    """A diverged model's NaN keypoints: the pictures leave them out instead of failing."""
    image = np.zeros((40, 40, 3), np.uint8)
    points = np.full((16, 2), np.nan)
    assert (mark_keypoints(image, points) == image).all()
    assert (draw_skeleton(image, points) == image).all()
    points[0] = (20, 20)
    assert draw_skeleton(image, points).any()
