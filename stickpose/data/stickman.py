"""The stickman generator: a frozen config and a seeded renderer of image chunks.

Images are produced in chunks of ``CHUNK_SIZE``; chunk ``k`` of seed ``s`` draws every random
choice from ``numpy.random.default_rng((s, k, stream))``, so any chunk can be made alone, in
any process, in any order, and image ``i`` of a dataset does not depend on how many images
the dataset holds. ``stream`` separates datasets (0) from training streams (1): a training
stream never replays a test set even when the seeds coincide.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property, partial

import numpy as np

from ..errors import StickposeError
from ..skeleton import (CLASS_COLOURS_RGB, LABEL_CONVENTIONS, NUM_JOINTS, STICKMAN_COLOURS_RGB,
                        line_thickness, observer_centric)
from .backgrounds import ImageFolderBackgrounds, PlatformerScenes, draw_shapes
from .occlusion import draw_occluders
from .placement import PLACEMENTS, class_stretch, place
from .poses import (SAMPLERS, PoseBank, PoseMixture, augment_poses, check_pose_sources,
                    load_pose_source)
from .render import class_labels, draw_stickman, draw_stickman_class
from .styles import CLASS_STYLES, STYLES, class_span

CHUNK_SIZE = 64
POSE_ORDERS = ("random", "in_order")
MIN_SIZE, MAX_SIZE = 32, 4096
DATASET_STREAM, TRAINING_STREAM, DECODER_STREAM = 0, 1, 2


class ConfigError(StickposeError):
    """A generator setting outside its allowed range."""


@dataclass(frozen=True)
class StickmanConfig:
    """Everything that decides what a stickman image looks like (besides the seed).

    Shape probabilities follow design.md section 5: a shape is added while a uniform draw is
    below p, so circles, squares and occluders need p < 1; ``backgrounds`` is the chance of a
    game (or ``background_dir``) background instead of black.
    """

    size: int = 224
    circles: float = 0.0
    squares: float = 0.0
    backgrounds: float = 0.0
    occluders: float = 0.0
    placement: str = "stretch"
    margin: float = 0.0          # fraction of the size left empty on each side
    min_scale: float = 0.5       # fit placement: smallest figure, as a share of the frame
    poses: str = "procedural"    # procedural2, a pose bank (.npy / .csv), or SOURCE:W,...
    pose_rows: tuple[int, int | None] = (0, None)   # a bank's complete poses start:stop
    pose_order: str = "random"   # a bank: random (with replacement) or in_order (image i = pose i)
    pose_mirror: float = 0.0     # augmentation: chance of mirroring a pose (labels follow)
    pose_rotate: float = 0.0     # augmentation: largest rotation about the centre, degrees
    pose_jitter: float = 0.0     # augmentation: joint noise, fraction of the pose's extent
    background_dir: str | None = None
    labels: str = "observer"     # left/right convention: observer- or person-centric
    style: str = "stickpose"     # drawing rules: stickpose (sub-pixel), class (the class's
                                 # 2021 code, its test sets) or class-2022 (section 9)
    stretch_group: int = 1       # class style: poses stretched together in runs of this many
                                 # images (the class's 2021 training batches); 1: each alone

    def __post_init__(self):
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise ConfigError(f"size {self.size!r} is not a whole number of pixels; expected "
                              f"an integer from {MIN_SIZE} to {MAX_SIZE}")
        if self.size < MIN_SIZE:
            raise ConfigError(f"size {self.size} is too small; expected an integer >= {MIN_SIZE}")
        if self.size > MAX_SIZE:
            raise ConfigError(f"size {self.size} is too large; expected at most {MAX_SIZE}")
        for name in ("circles", "squares", "backgrounds", "occluders", "margin", "min_scale",
                     "pose_mirror", "pose_rotate", "pose_jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} {value!r} is not a number")
        for name in ("circles", "squares", "backgrounds", "occluders"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} probability {value} is outside [0, 1]")
            if value == 1.0 and name != "backgrounds":
                raise ConfigError(f"{name} probability 1 would add {name} forever "
                                  "(one is added while a uniform draw is below p); use p < 1")
        if self.placement not in PLACEMENTS:
            raise ConfigError(f"placement {self.placement!r} is unknown; "
                              f"expected one of {', '.join(PLACEMENTS)}")
        if not 0.0 <= self.margin < 0.45:
            raise ConfigError(f"margin {self.margin} is outside [0, 0.45)")
        if not 0.0 < self.min_scale <= 1.0:
            raise ConfigError(f"min_scale {self.min_scale} is outside (0, 1]")
        if self.labels not in LABEL_CONVENTIONS:
            raise ConfigError(f"labels {self.labels!r} is unknown; expected one of "
                              f"{', '.join(LABEL_CONVENTIONS)}")
        rows = self.pose_rows
        if isinstance(rows, (tuple, list)) and len(rows) == 1:
            rows = (rows[0], None)
        if (not isinstance(rows, (tuple, list)) or len(rows) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                           for v in (rows[0], 0 if rows[1] is None else rows[1]))):
            raise ConfigError(f"pose_rows {self.pose_rows!r} is not [start, stop] of "
                              "non-negative integers (stop may be left out)")
        rows = (rows[0], rows[1])
        object.__setattr__(self, "pose_rows", rows)
        if self.pose_order not in POSE_ORDERS:
            raise ConfigError(f"pose_order {self.pose_order!r} is unknown; expected one of "
                              f"{', '.join(POSE_ORDERS)}")
        sources = check_pose_sources(self.poses)
        if ((len(sources) > 1 or sources[0][0] in SAMPLERS)
                and (self.pose_order != "random" or rows != (0, None))):
            raise ConfigError("pose_rows and pose_order apply to a single pose bank, not to "
                              f"poses {self.poses!r}")
        if not 0.0 <= self.pose_mirror <= 1.0:
            raise ConfigError(f"pose_mirror probability {self.pose_mirror} is outside [0, 1]")
        if not 0.0 <= self.pose_rotate <= 180.0:
            raise ConfigError(f"pose_rotate {self.pose_rotate} is outside [0, 180] degrees")
        if not 0.0 <= self.pose_jitter <= 0.2:
            raise ConfigError(f"pose_jitter {self.pose_jitter} is outside [0, 0.2] (a "
                              "fraction of the pose's extent)")
        if self.style not in STYLES:
            raise ConfigError(f"style {self.style!r} is unknown; expected one of "
                              f"{', '.join(STYLES)}")
        if self.style in CLASS_STYLES and (self.placement != "stretch" or self.margin != 0):
            raise ConfigError(f"the {self.style} style stretches every pose to the whole "
                              f"frame (placement stretch, margin 0); got placement "
                              f"{self.placement!r}, margin {self.margin}")
        if (isinstance(self.stretch_group, bool) or not isinstance(self.stretch_group, int)
                or self.stretch_group < 1 or CHUNK_SIZE % self.stretch_group):
            raise ConfigError(f"stretch_group {self.stretch_group!r} is not a whole number "
                              f"that divides {CHUNK_SIZE} (1, 2, 4, ... {CHUNK_SIZE})")
        if self.stretch_group > 1 and self.style != "class":
            raise ConfigError(f"stretch_group {self.stretch_group} is the class's 2021 "
                              f"batch-wide stretch: it needs style 'class', not "
                              f"{self.style!r}")
        if self.background_dir and self.backgrounds == 0:
            raise ConfigError(f"background folder {self.background_dir} is given but the "
                              "backgrounds probability is 0; set backgrounds > 0 to use it")

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> "StickmanConfig":
        """Build from a plain mapping, naming any unknown key and the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        try:
            return cls(**values)
        except StickposeError as error:            # say where the setting was written
            raise type(error)(f"{where}: {error}") from None


class StickmanGenerator:
    """Renders seeded chunks of stickman images with their exact keypoints."""

    def __init__(self, config: StickmanConfig, seed: int, stream: int = DATASET_STREAM):
        self.config = config
        self.seed = int(seed)
        self.stream = stream
        self.poses = load_pose_source(config.poses)
        if isinstance(self.poses, PoseBank):
            self.poses = self.poses.rows(*config.pose_rows)

    @cached_property
    def _backgrounds(self) -> PlatformerScenes | ImageFolderBackgrounds:
        if self.config.background_dir:
            return ImageFolderBackgrounds(self.config.background_dir, self.config.size,
                                          self.config.style)
        return PlatformerScenes(self.config.size, self.seed)

    def check_backgrounds(self) -> None:
        """Load the background source now, so a bad folder fails before any work."""
        if self.config.backgrounds > 0:
            self._backgrounds

    def check_count(self, count: int) -> None:
        """A set of ``count`` images that takes a bank's poses in order must not run out of
        them (it would repeat poses); raise naming the rows."""
        if self.config.pose_order == "in_order" and count > len(self.poses.poses):
            start, stop = self.config.pose_rows
            raise ConfigError(f"pose bank {self.poses.source} has {len(self.poses.poses)} "
                              f"complete pose(s) in rows {start}:{'' if stop is None else stop}"
                              f", fewer than the {count} images asked for in order")

    def placed(self, index: int, rng: np.random.Generator | None = None):
        """The figures of chunk ``index`` as they are drawn and labelled, without drawing
        them: ``(placed, keypoints)``, each ``(C, 16, 2)``: the exact placed coordinates the
        figure is drawn from, and its labels (the same, but truncated in the class's
        styles). ``rng``: the chunk's generator (``chunk`` goes on drawing from it)."""
        config = self.config
        if rng is None:
            rng = self._rng(index)
        poses = (self.poses.in_order(int(index) * CHUNK_SIZE, CHUNK_SIZE)
                 if config.pose_order == "in_order" else self.poses.sample(rng, CHUNK_SIZE))
        poses = augment_poses(poses, rng, config.pose_mirror, config.pose_rotate,
                              config.pose_jitter)
        if config.labels == "observer":
            poses = observer_centric(poses)
        if config.style in CLASS_STYLES:   # drawn from the exact values, labelled truncated
            placed = class_stretch(poses, class_span(config.style, config.size),
                                   config.stretch_group)
            return placed, class_labels(placed)
        placed = place(poses, config.size, config.placement, rng, config.margin,
                       config.min_scale).astype(np.float32)
        return placed, placed

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, int(index), self.stream))

    def chunk(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Chunk ``index``: images ``(C, S, S, 3) uint8`` RGB, keypoints ``(C, 16, 2)
        float32`` xy pixels, visible ``(C, 16) bool``, with C = ``CHUNK_SIZE``."""
        config = self.config
        size = config.size
        rng = self._rng(index)
        placed, keypoints = self.placed(index, rng)
        if config.style in CLASS_STYLES:
            draw, palette = partial(draw_stickman_class, style=config.style), CLASS_COLOURS_RGB
        else:
            draw, palette = draw_stickman, STICKMAN_COLOURS_RGB
        colours = rng.integers(len(palette), size=CHUNK_SIZE)
        images = np.zeros((CHUNK_SIZE, size, size, 3), np.uint8)
        visible = np.ones((CHUNK_SIZE, NUM_JOINTS), bool)
        thickness = line_thickness(size)
        for i in range(CHUNK_SIZE):
            image = images[i]
            if config.backgrounds > 0 and rng.random() < config.backgrounds:
                self._backgrounds.draw(image, rng)
            if config.circles > 0 or config.squares > 0:
                others = [c for k, c in enumerate(palette) if k != colours[i]]
                draw_shapes(image, rng, config.circles, config.squares, others, config.style)
            draw(image, placed[i], palette[colours[i]], thickness)
            if config.occluders > 0:
                visible[i] = draw_occluders(image, keypoints[i], rng, config.occluders)
        return images, keypoints, visible

    def pose_source(self) -> dict:
        """What the poses came from, for a dataset's meta.json."""
        if isinstance(self.poses, PoseBank):
            start, stop = self.config.pose_rows
            return {"kind": "bank", "path": self.poses.source, "poses": len(self.poses.poses),
                    "skipped_incomplete": self.poses.skipped,
                    "rows": f"{start}:{'' if stop is None else stop}",
                    "order": self.config.pose_order}
        if isinstance(self.poses, PoseMixture):
            return {"kind": "mixture", "sources": [
                {"poses": name, "weight": weight}
                for name, weight in zip(self.poses.names, self.poses.weights)]}
        return {"kind": self.config.poses}
