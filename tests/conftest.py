import numpy as np
import pytest

from stickpose.data.stickman import StickmanConfig


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small_noisy():
    """A small config with every kind of noise, quick to render."""
    return StickmanConfig(size=48, circles=0.5, squares=0.3, backgrounds=0.5, occluders=0.3)
