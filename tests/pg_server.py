"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` (Debian's ``postgresql``
package) in a temporary folder, listening on a free loopback port, trusting local logins,
stopped when the test session ends. As root (CI), the server runs as the ``postgres``
user, since PostgreSQL refuses to run as root. Each test gets a database of its own."""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "stickpose"


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned folder."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(
        Path(f).parent.name) if Path(f).parent.name.isdigit() else 0)
    folders = [Path(f) for f in folders if (Path(f) / "initdb").exists()]
    return folders[-1] if folders else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One running server; ``database()`` makes a new empty database and returns its URL."""

    def __init__(self, folder: Path):
        self.folder, self.bin = folder, binaries()
        self.port = _free_port()
        self.prefix = []
        if os.geteuid() == 0:                            # postgres will not run as root
            pwd.getpwnam("postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
        data = folder / "data"
        self._run("initdb", "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8",
                  "--no-instructions")
        self._run("pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c max_connections=200", "start")
        atexit.register(self.stop)

    def _run(self, program: str, *args) -> None:
        result = subprocess.run([*self.prefix, str(self.bin / program), *map(str, args)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode:
            log = self.folder / "server.log"
            raise RuntimeError(f"{program} failed: {result.stderr.strip()} "
                               f"{log.read_text() if log.exists() else ''}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        from sqlalchemy import create_engine, text

        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        if (self.folder / "data" / "postmaster.pid").exists():
            subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D",
                            str(self.folder / "data"), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(attempts: int = 3) -> Server:
    """A new server; tried again on a fresh port if its start fails (test processes that
    run in parallel each start one, and two may probe the same free port)."""
    for attempt in range(attempts):
        folder = Path(tempfile.mkdtemp(prefix="stickpose-pg-"))
        try:
            return Server(folder)
        except RuntimeError:
            shutil.rmtree(folder, ignore_errors=True)
            if attempt == attempts - 1:
                raise
