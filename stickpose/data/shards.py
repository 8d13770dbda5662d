"""A worker's part of a training stream (``stickpose train --strategy multiworker``): of
each global batch of ``batch_size`` consecutive images, worker ``i`` of ``workers`` takes the
``i``-th of ``workers`` equal contiguous slices. The parts are disjoint, and each batch of
the single-worker stream is the workers' parts in worker order. Plain arithmetic on NumPy or
TensorFlow integers; the streams (``pipeline``, ``lsp``) apply it.
"""
from __future__ import annotations


def shard_part(batch_size: int | None, shard: tuple[int, int]) -> int | None:
    """The images of each batch of ``batch_size`` that worker ``index`` of ``shard=(index,
    workers)`` gets: ``batch_size / workers``; a ``ValueError`` for a shard that is not one of
    an even split."""
    index, workers = shard
    if workers == 1 and index == 0:
        return batch_size
    if not (0 <= index < workers) or not batch_size or batch_size % workers:
        raise ValueError(f"shard {shard!r} of batches of {batch_size}: expected (index, "
                         "workers) with 0 <= index < workers and a batch size that workers "
                         "divide")
    return batch_size // workers


def in_shard(offsets, batch_size: int, shard: tuple[int, int]):
    """Whether the stream's images at ``offsets`` (counted from the stream's first image;
    NumPy or TensorFlow integers) are worker ``index``'s of ``shard=(index, workers)``."""
    index, workers = shard
    return (offsets % batch_size) // (batch_size // workers) == index


def chunk_in_shard(first, end, batch_size: int, shard: tuple[int, int]):
    """Whether any offset in ``first ... end - 1`` (``first < end``) is ``in_shard``: a chunk
    that holds none of a worker's images need not be rendered for it."""
    index, workers = shard
    part = batch_size // workers
    low = first % batch_size                     # the range's rows: low ... high - 1 (mod)
    high = low + (end - first)
    mine = index * part
    return (end - first >= batch_size) | ((low < mine + part) & (high > mine)) | \
        ((low < mine + part + batch_size) & (high > mine + batch_size))
