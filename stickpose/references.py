"""Keypoints that no trained model made, scored like a model to show what a protocol can
tell apart and how low a score can go: the stand-ins and the floors of a suite's test sets.

Stand-ins (every suite): ``perfect keypoints`` (the labels themselves), ``mean training
pose`` (the mean of 4,096 labels of the suite's training stream, at the test sets' size and
label convention, for every image) and ``all zeros``.

Floors (suites drawn in the class's 2021 style and labelled person-centric: the class's own
benchmark), on the intended score:

- ``label floor``: perfect keypoints in the only convention a stick figure shows (observer-
  centric), relabelled person-centric by the handedness classifier that stickpose's runs
  use (``codecs.handedness``): what the left/right convention costs a perfect model;
- ``drawing floor``: an oracle that knows every joint the picture shows exactly and infers
  the others (a joint whose every limb the 2021 drawing leaves out: ``render.drawn_joints``)
  from the 5 training poses nearest on the shown joints (``drawing_oracle``), person-centric
  labels known: what the missing limbs cost;
- ``label + drawing floor``: that oracle, relabelled by the handedness classifier.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .data.poses import PoseBank
from .data.render import drawn_joints
from .data.stickman import CHUNK_SIZE, StickmanGenerator
from .data.styles import class_span
from .errors import StickposeError
from .skeleton import HEAD_TOP, UPPER_NECK

STAND_INS = ("perfect keypoints", "mean training pose", "all zeros")
FLOORS = ("label floor", "drawing floor", "label + drawing floor")
MEAN_POSE_CHUNKS = 64              # 64 x 64 = 4,096 training labels averaged
NEIGHBOURS = 5


def training_stream(suite):
    """The generator config of ``suite``'s default training stream (``train``)."""
    if "train" not in suite.streams:
        raise StickposeError(f"suite {suite.name} has no training stream 'train' to take "
                             "the mean training pose and the training poses from")
    return suite.streams["train"].config


def mean_training_pose(suite, size: int, labels: str) -> np.ndarray:
    """``(16, 2)``: the mean label of the suite's training stream drawn at ``size`` px in
    convention ``labels`` (4,096 poses, seeded)."""
    generator = StickmanGenerator(replace(training_stream(suite), size=size, labels=labels), 0)
    return np.concatenate([generator.placed(k)[1] for k in range(MEAN_POSE_CHUNKS)]).mean(0)


def training_bank(suite) -> np.ndarray:
    """The person-centric training poses ``(n, 16, 2)`` of a suite whose stream draws from a
    pose bank (the class's train_split rows), in the bank's own pixels."""
    generator = StickmanGenerator(replace(training_stream(suite), labels="person"), 0)
    if not isinstance(generator.poses, PoseBank):
        raise StickposeError(f"suite {suite.name}: the floors need a pose bank in the "
                             "training stream")
    return generator.poses.poses


def drawing_oracle(placed: np.ndarray, truth: np.ndarray, bank: np.ndarray, style: str,
                   size: int) -> np.ndarray:
    """Keypoints ``(n, 16, 2)``: the shown joints of figures ``placed`` (their exact drawn
    coordinates, ``(n, 16, 2)``) at their labels ``truth``, the others inferred. A head joint
    that no limb shows is the mirror of the other through the head circle's centre (drawn
    always; its centre is truncated, so it is taken half a pixel on). Any other hidden joint
    is the mean of its place in the ``NEIGHBOURS`` training poses (``bank``, person-centric,
    stretched as the test figures are) nearest on the joints that this figure shows,
    clipped to the frame. Figures are grouped by which joints they show, one neighbour
    search per group (scikit-learn)."""
    from sklearn.neighbors import NearestNeighbors

    from .data.placement import class_stretch

    shown = drawn_joints(placed, style)
    oracle = np.array(truth, np.float64, copy=True)
    centre = np.trunc((placed[:, UPPER_NECK] + placed[:, HEAD_TOP]) / 2) + 0.5
    for joint, other in ((HEAD_TOP, UPPER_NECK), (UPPER_NECK, HEAD_TOP)):
        mirrored = ~shown[:, joint] & shown[:, other]
        oracle[mirrored, joint] = 2 * centre[mirrored] - truth[mirrored, other]
        shown[mirrored, joint] = True
    frame = class_stretch(np.asarray(bank, np.float64), class_span(style, size))
    patterns, group = np.unique(shown, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        if pattern.all():
            continue
        members = np.flatnonzero(group.ravel() == k)
        search = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(
            frame[:, pattern].reshape(len(frame), -1))
        _, nearest = search.kneighbors(truth[members][:, pattern].reshape(len(members), -1))
        guess = frame[nearest][:, :, ~pattern].mean(axis=1)
        oracle[np.ix_(members, np.flatnonzero(~pattern))] = np.clip(guess, 0, size)
    return oracle


def suite_references(suite, names: list[str], count: int | None = None, progress=None):
    """``{name: {set name: keypoints (n, 16, 2)}}`` of the stand-ins (every suite) and the
    floors (suites of person-centric sets drawn in the class's 2021 style) on the suite's
    sets ``names`` (their first ``count`` images), with each set's ``(images, truth,
    visible)`` as ``{set name: ...}``: ``(references, sets)``."""
    from .codecs.handedness import Handedness
    from .data.sets import render_set, suite_set

    references = {name: {} for name in STAND_INS}
    loaded, mean_poses = {}, {}
    handedness = bank = None
    for set_name in names:
        spec = suite_set(suite, set_name)
        images, truth, visible = render_set(spec, count)
        loaded[set_name] = (images, truth, visible)
        size, labels = spec.config.size, spec.config.labels
        references["perfect keypoints"][set_name] = truth
        if (size, labels) not in mean_poses:
            mean_poses[size, labels] = mean_training_pose(suite, size, labels)
        references["mean training pose"][set_name] = np.broadcast_to(
            mean_poses[size, labels], truth.shape)
        references["all zeros"][set_name] = np.zeros_like(truth)
        if spec.config.style == "class" and labels == "person":
            if bank is None:
                bank = training_bank(suite)
                handedness = Handedness.fitted(bank, 0)
            generator = StickmanGenerator(spec.config, spec.seed)
            placed = np.concatenate([generator.placed(k)[0]
                                     for k in range(-(-len(truth) // CHUNK_SIZE))])[:len(truth)]
            oracle = drawing_oracle(placed, truth, bank, spec.config.style, size)
            for name, keypoints in zip(FLOORS, (handedness.apply(truth), oracle,
                                                handedness.apply(oracle))):
                references.setdefault(name, {})[set_name] = keypoints
        if progress:
            progress(set_name)
    return references, loaded
