"""A real PostgreSQL 15 + PostGIS server for the tests, started once per session.

The server runs from the Debian packages (``postgresql``, ``postgresql-15-postgis-3``; ``make test``
installs them) in a temporary directory, on a free port of 127.0.0.1 only, with password
authentication over TCP. initdb refuses to run as root, so under root the server runs as the
``postgres`` user (``runuser -u postgres --``). Under CI (``CI`` set) a missing server is a failure;
elsewhere the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("LANDEFF_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "landeff_test"
USER = "postgres"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostGIS test server: {reason}", pytrace=False)
    pytest.skip(f"PostGIS test server: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (initdb and postgres refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", USER, "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        _unavailable(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """Yield ``postgresql://postgres:PASSWORD@127.0.0.1:PORT/landeff_test`` (PostGIS enabled)."""
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).exists():
            _unavailable(
                f"{PG_BIN / tool} not found; install the Debian packages postgresql and "
                "postgresql-15-postgis-3 (make test does), or set LANDEFF_PG_BIN"
            )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root without runuser: cannot start PostgreSQL as postgres")
    try:
        import psycopg
    except ImportError as err:  # pragma: no cover - the test extra installs it
        _unavailable(f"psycopg is not installed ({err})")

    root = Path(tempfile.mkdtemp(prefix="landeff-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    stop = _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    started = False
    try:
        sock.mkdir()
        password = secrets.token_hex(12)
        pwfile = root / "pw"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            for p in (root, sock, pwfile):
                shutil.chown(p, USER)
        root.chmod(0o700)
        port = _free_port()
        _run(
            _as_server_user([
                str(PG_BIN / "initdb"), "-D", str(data), "-U", USER, "-E", "UTF8", "--locale=C",
                f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
            ]),
            "initdb",
        )
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = _as_server_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w",
             "-t", "60", "start"]
        )
        proc = subprocess.run(start, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            text = log.read_text(errors="replace")[-2000:] if log.exists() else proc.stderr
            _unavailable(f"pg_ctl start failed: {text}")
        started = True
        base = f"postgresql://{USER}:{password}@127.0.0.1:{port}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(f"{base}/{DATABASE}", autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION postgis")
            except psycopg.Error as err:
                _unavailable(f"CREATE EXTENSION postgis failed ({err}); install "
                             "postgresql-15-postgis-3")
        yield f"{base}/{DATABASE}"
    finally:
        if started:
            subprocess.run(stop, capture_output=True, timeout=120, check=False)
        shutil.rmtree(root, ignore_errors=True)
