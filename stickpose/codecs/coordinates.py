"""Coordinate targets for the scalar and integral heads: xy divided by the input size."""
from __future__ import annotations


def normalise(keypoints, input_size: int):
    """Input pixels ``(..., 16, 2)`` -> fractions of the input size."""
    return keypoints / input_size


def denormalise(coordinates, input_size: int):
    """Fractions of the input size ``(..., 16, 2)`` -> input pixels."""
    return coordinates * input_size
