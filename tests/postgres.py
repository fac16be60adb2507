"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a free port, a temp dir.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (the
Debian package creates it). Nothing is mocked: the lake's catalog and Dagster's instance talk
to this server exactly as they would to a team's.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_BINARIES = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"


def _binaries() -> Path:
    found = sorted(glob.glob(f"{SERVER_BINARIES}/initdb"))
    if not found:
        raise RuntimeError(
            "no PostgreSQL server binaries in /usr/lib/postgresql: install Debian's `postgresql` "
            "package (`apt-get install postgresql`; .ci/run does it)"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresCluster:
    folder: Path
    port: int
    bin_dir: Path

    @classmethod
    def start(cls, fsync: bool = False) -> PostgresCluster:
        """A new cluster; `fsync` off (the tests' default) trades durability for speed."""
        folder = Path(tempfile.mkdtemp(prefix="pg-"))
        cluster = cls(folder, free_port(), _binaries())
        if os.geteuid() == 0:
            shutil.chown(folder, SUPERUSER)
        cluster._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", SUPERUSER)
        options = f"-p {cluster.port} -k {folder} -c listen_addresses=127.0.0.1"
        options += f" -c fsync={'on' if fsync else 'off'}"
        cluster._run(
            "pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w",
            "start",
        )  # fmt: skip
        return cluster

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new database; returns its libpq connection string (as DUCKLAKE_CATALOG takes it)."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.dsn(name)

    def dsn(self, name: str) -> str:
        return f"dbname={name} host=127.0.0.1 port={self.port} user={SUPERUSER}"

    def url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, cwd="/", check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed after {time.monotonic() - started:.1f} s: "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
