"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temporary folder, a
Unix socket only (no TCP port to collide with), removed at the end.

initdb refuses to run as root; as root (CI containers) the cluster runs as the `postgres` user
the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PORT = 5432  # on the cluster's own socket folder: no clash with any other server


def server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


RUNNING: set[Cluster] = set()  # started and not stopped yet (a timed-out run stops them too)


class Cluster:
    """`start()` makes and starts the cluster; `url(db)` names a database in it."""

    def __init__(self) -> None:
        binaries = server_bin()
        if binaries is None:
            raise RuntimeError(
                "PostgreSQL server binaries are missing (Debian package postgresql;"
                " `make test` installs it)"
            )
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="legaltv-pg-"))
        self.data = self.folder / "data"
        self.socket = self.folder
        self._runas: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            self._runas = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._runas, *args], check=True, capture_output=True, cwd=self.folder, timeout=120
        )

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "legaltv",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.socket}' -p {PORT}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=300 -c shared_buffers=64MB"
            # Counts of executed statements, for tests that count round trips.
            " -c shared_preload_libraries=pg_stat_statements"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.folder / "log"), "-w", "start",
        )  # fmt: skip
        RUNNING.add(self)

    def psql(self, sql: str) -> None:
        """Run one SQL command as the cluster's owner (e.g. CREATE DATABASE)."""
        subprocess.run(
            [str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url(), "-c", sql],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://legaltv@/{database}?host={self.socket}&port={PORT}"

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        RUNNING.discard(self)
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
