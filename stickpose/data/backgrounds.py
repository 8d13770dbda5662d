"""What lies behind the figure: noise shapes, procedural platformer scenes, user images."""
from __future__ import annotations

import zipfile
from functools import partial
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import StickposeError
from .styles import CLASS_STYLES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def draw_shapes(image: np.ndarray, rng: np.random.Generator, circles: float, squares: float,
                palette: list[tuple[int, int, int]], style: str = "stickpose") -> None:
    """Draw noise shapes in place, squares then circles, each kind added while a uniform draw
    is below its p. Colours come from ``palette`` (the stickman colours without the
    figure's own).

    ``stickpose`` style: circles radius 10 px at 224 px (scaled with the size), anti-aliased;
    squares with sides of 5-30 % of the size. ``class`` styles (the class baseline, 2021 and 2022 alike): squares
    between two sorted corners drawn from ``0..S`` per axis, anywhere in the frame; circles
    of radius 10 px at every image size, centre in ``0..S``; 8-connected, no anti-aliasing.
    """
    size = image.shape[0]
    if style in CLASS_STYLES:
        while rng.random() < squares:
            x1, x2 = np.sort(rng.integers(0, size + 1, 2))
            y1, y2 = np.sort(rng.integers(0, size + 1, 2))
            cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)),
                          palette[rng.integers(len(palette))], -1)
        while rng.random() < circles:
            x, y = rng.integers(0, size + 1, 2)
            cv2.circle(image, (int(x), int(y)), 10, palette[rng.integers(len(palette))], -1)
        return
    radius = max(round(10 * size / 224), 1)
    while rng.random() < squares:      # centre uniform in the frame: no corner is favoured
        x, y = rng.integers(0, size, 2)
        w, h = rng.integers(max(size // 20, 1), max(size * 3 // 10, 2), 2)
        left, top = int(x - w // 2), int(y - h // 2)
        cv2.rectangle(image, (left, top), (left + int(w), top + int(h)),
                      palette[rng.integers(len(palette))], -1)
    while rng.random() < circles:
        x, y = rng.integers(0, size, 2)
        cv2.circle(image, (int(x), int(y)), radius, palette[rng.integers(len(palette))], -1,
                   cv2.LINE_AA)


# --- procedural platformer scenes -----------------------------------------------------------
_SKIES = ((92, 148, 252), (120, 180, 255), (255, 190, 150), (30, 30, 80), (170, 210, 240))
_BRICK = ((200, 76, 12), (150, 60, 20), (130, 100, 70))
_GREEN = ((0, 168, 0), (30, 130, 30), (80, 200, 70))


def _blob(image, centre, tile, colour, rng, parts=3):
    """A cloud or bush: overlapping filled ellipses along a row."""
    cx, cy = centre
    for k in range(parts):
        dx = int((k - (parts - 1) / 2) * tile * 0.9)
        axes = (int(tile * rng.uniform(0.7, 1.0)), int(tile * rng.uniform(0.5, 0.8)))
        cv2.ellipse(image, (int(cx + dx), int(cy)), axes, 0, 0, 360, colour, -1, cv2.LINE_AA)


def _tile(image, x, y, tile, colour, question=False):
    """One block: filled square with a dark outline (and a mark for a question block)."""
    dark = tuple(int(c * 0.45) for c in colour)
    cv2.rectangle(image, (x, y), (x + tile - 1, y + tile - 1), colour, -1)
    cv2.rectangle(image, (x, y), (x + tile - 1, y + tile - 1), dark, max(tile // 12, 1))
    if question:
        cv2.circle(image, (x + tile // 2, y + tile // 2), max(tile // 5, 1), dark, -1)
    else:
        cv2.line(image, (x, y + tile // 2), (x + tile - 1, y + tile // 2), dark, 1)


def platformer_scene(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A side-scrolling game level drawn from scratch: ``(height, width, 3) uint8`` RGB.

    Flat sky, clouds, hills, a tiled ground with pits, pipes, floating blocks and bushes,
    with sizes on a tile grid of ``height / 14`` pixels.
    """
    tile = max(height // 14, 2)
    scene = np.empty((height, width, 3), np.uint8)
    scene[:] = _SKIES[rng.integers(len(_SKIES))]
    ground_y = height - tile * int(rng.integers(1, 4))
    for _ in range(int(rng.integers(2, 6))):                      # hills, far away
        x = int(rng.integers(0, width))
        axes = (int(tile * rng.uniform(2, 6)), int(tile * rng.uniform(1.5, 4)))
        colour = tuple(int(c * 0.8) for c in _GREEN[rng.integers(len(_GREEN))])
        cv2.ellipse(scene, (x, ground_y), axes, 0, 180, 360, colour, -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(3, 9))):                      # clouds
        centre = (rng.integers(0, width), rng.integers(tile, max(ground_y // 2, tile + 1)))
        _blob(scene, centre, tile, (250, 250, 250), rng, int(rng.integers(2, 5)))
    brick = _BRICK[rng.integers(len(_BRICK))]
    column = 0
    while column < width:                                         # ground with pits
        for _ in range(int(rng.integers(6, 30))):
            for y in range(ground_y, height, tile):
                _tile(scene, column, y, tile, brick)
            column += tile
        if rng.random() < 0.3:
            column += tile * int(rng.integers(2, 4))
    for _ in range(int(rng.integers(1, 5))):                      # bushes on the ground
        _blob(scene, (rng.integers(0, width), ground_y - tile // 3), tile,
              _GREEN[rng.integers(len(_GREEN))], rng, int(rng.integers(2, 5)))
    for _ in range(int(rng.integers(1, 5))):                      # pipes
        x, top = int(rng.integers(0, width - 2 * tile)), ground_y - tile * int(rng.integers(2, 5))
        green = _GREEN[rng.integers(len(_GREEN))]
        dark = tuple(c // 2 for c in green)
        cv2.rectangle(scene, (x, top), (x + 2 * tile, ground_y), green, -1)
        cv2.rectangle(scene, (x, top), (x + 2 * tile, ground_y), dark, max(tile // 10, 1))
        lip = (x - tile // 4, top - tile // 2)
        cv2.rectangle(scene, lip, (x + 2 * tile + tile // 4, top), green, -1)
        cv2.rectangle(scene, lip, (x + 2 * tile + tile // 4, top), dark, max(tile // 10, 1))
    for _ in range(int(rng.integers(1, 5))):                      # floating blocks
        x = int(rng.integers(0, width)) // tile * tile
        y = ground_y - tile * int(rng.integers(3, 6))
        for k in range(int(rng.integers(1, 6))):
            question = rng.random() < 0.3
            _tile(scene, x + k * tile, y, tile, (252, 160, 68) if question else brick, question)
    return scene


class PlatformerScenes:
    """A bank of wide procedural scenes; each background is a random crop of one of them."""

    def __init__(self, size: int, seed: int, count: int = 24, width_factor: int = 4):
        rng = np.random.default_rng((seed, 0x5CE7E))
        self.size = size
        self.scenes = [platformer_scene(rng, size, size * width_factor) for _ in range(count)]

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> None:
        """Fill ``image`` ``(S, S, 3)`` with a random crop of a scene."""
        scene = self.scenes[rng.integers(len(self.scenes))]
        x = int(rng.integers(0, scene.shape[1] - self.size + 1))
        image[:] = scene[:, x:x + self.size]


class BackgroundFolderError(StickposeError):
    """A background folder with no readable images."""


def decode_background(data: bytes) -> np.ndarray | None:
    """An encoded image file as ``(H, W, 3) uint8`` RGB, or None if it cannot be decoded.
    Pixels with alpha < 2 are black (the class baseline's reading of its RGBA game
    screenshots); grey images are spread to three channels, 16-bit ones scaled to 8 bits."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return None
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        return None
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] in (2, 4):                                 # an alpha channel last
        colour = image[..., :-1].copy()
        colour[image[..., -1] < 2] = 0
        image = colour
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _image_files(source: Path) -> list[tuple[str, Callable[[], bytes]]]:
    """``(name, read)`` of every file with an image suffix in a folder or a ``.zip``."""
    if source.is_file() and source.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(source)
        except (OSError, zipfile.BadZipFile) as error:
            raise BackgroundFolderError(f"cannot read background archive {source}: "
                                        f"{error}") from None
        names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES)
        return [(n, partial(archive.read, n)) for n in names]
    if not source.is_dir():
        raise BackgroundFolderError(
            f"background folder {source} " + ("is a file, not a folder of images (or a .zip)"
                                               if source.exists() else "does not exist"))
    paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [(p.name, p.read_bytes) for p in paths]


class ImageFolderBackgrounds:
    """Backgrounds cropped from a folder (or ``.zip``) of the user's images (read once, RGB).

    ``stickpose`` style: images smaller than the frame are scaled up, any crop position.
    ``class`` styles (the class baseline, 2021 and 2022 alike): a crop at row ``randint(0, H - S)``, column
    ``randint(0, W - S)`` (upper bounds excluded) of an image larger than the frame on both
    sides; an image that is not larger leaves the background black.
    """

    def __init__(self, folder: str | Path, size: int, style: str = "stickpose"):
        folder = Path(folder)
        files = _image_files(folder)
        self.size = size
        self.style = style
        self.images = []
        for _, read in files:
            try:
                image = decode_background(read())
            except OSError:
                image = None
            if image is None:
                continue
            scale = size / min(image.shape[:2])
            if scale > 1 and style not in CLASS_STYLES:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
            self.images.append(image)
        if not self.images:
            raise BackgroundFolderError(
                f"background folder {folder} holds no readable image "
                f"({len(files)} file(s) with suffix {', '.join(IMAGE_SUFFIXES)}, none decodable)")

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> None:
        """Fill ``image`` ``(S, S, 3)`` with a random crop of a random folder image."""
        source = self.images[rng.integers(len(self.images))]
        if self.style in CLASS_STYLES:
            height, width = source.shape[:2]
            if height > self.size and width > self.size:
                y = int(rng.integers(0, height - self.size))
                x = int(rng.integers(0, width - self.size))
                image[:] = source[y:y + self.size, x:x + self.size]
            return
        y = int(rng.integers(0, max(source.shape[0] - self.size, 0) + 1))
        x = int(rng.integers(0, max(source.shape[1] - self.size, 0) + 1))
        crop = source[y:y + self.size, x:x + self.size]
        image[:] = crop if crop.shape[:2] == (self.size, self.size) else \
            cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
