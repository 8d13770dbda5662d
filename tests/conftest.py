import os
import tempfile

import numpy as np
import pytest

from stickpose.data.stickman import StickmanConfig
from tests.class_fixture import make_class_dir


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


@pytest.fixture(scope="session")
def class_dir(tmp_path_factory):
    """A small copy of the class baseline's files (see ``make_class_dir``)."""
    return make_class_dir(tmp_path_factory.mktemp("class") / "IamStickman")
