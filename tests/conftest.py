import os
import tempfile

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


def pytest_configure(config):
    """Keep the tests' results (every train and evaluate records them) out of the user's
    store: one throw-away SQLite file for the session, inherited by subprocesses."""
    folder = tempfile.mkdtemp(prefix="stickpose-store-")
    os.environ["STICKPOSE_DB"] = f"sqlite:///{folder}/leaderboard.sqlite"
