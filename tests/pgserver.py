"""A throwaway PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` on a temporary
directory, listening on a free port of 127.0.0.1 only, with trust authentication.

The server binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it).
PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
``postgres`` system user that the package creates, on a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's newest, else the PATH's."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server; :meth:`stop` ends it and removes its files."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="deltanet-pg-"))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self._run(
            "initdb", "-D", self.data, "--auth=trust", "-U", "postgres", "--no-sync",
            "--locale=C", "-E", "UTF8",
        )  # fmt: skip
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-o", options, "start")

    def _run(self, program: str, *args: object) -> None:
        result = subprocess.run(
            [str(self.bindir / program), *map(str, args)],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database called ``name``; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
