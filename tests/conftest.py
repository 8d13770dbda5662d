import os
import tempfile
import uuid

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
    # and fitted handedness classifiers in a cache of the session's own
    os.environ["STICKPOSE_CACHE"] = tempfile.mkdtemp(prefix="stickpose-cache-")
    # and the copies of the pretrained models (stickpose.pretrained) in a data folder of its own
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="stickpose-data-")


@pytest.fixture(scope="session")
def class_dir(tmp_path_factory):
    """A small copy of the class baseline's files (see ``make_class_dir``)."""
    return make_class_dir(tmp_path_factory.mktemp("class") / "IamStickman")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (``tests.pg_server``), skipped with the
    reason only where no server binaries are installed."""
    from tests import pg_server

    if pg_server.binaries() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install "
                    "postgresql")
    server = pg_server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """An empty results store's URL, once per backend: a SQLite file, and a new database
    on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres").database()


@pytest.fixture
def another_store(store_url, request, tmp_path):
    """A function making further empty stores on ``store_url``'s backend."""
    def make() -> str:
        if store_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:8]}.sqlite'}"
        return request.getfixturevalue("postgres").database()
    return make
