"""Start and stop a real local DynamoDB engine: Amazon DynamoDB Local, moto's server or dynalite.

DynamoDB Local and dynalite are fetched once into the user cache (see ``_fetch``) and reused;
moto runs from the current Python environment. POSIX only: the engine runs in its own process
group.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from .._errors import EngineError
from ._fetch import DYNALITE_CLI, _tail, ensure_dynalite, ensure_dynamodb_local

__all__ = ["DUMMY_CREDENTIALS", "ENGINES", "LocalDynamoDB", "REGION"]

ENGINES: tuple[str, ...] = ("dynamodb-local", "moto", "dynalite")
REGION = "us-east-1"
# DynamoDB Local rejects access keys with non-alphanumeric characters: keep these alphanumeric.
DUMMY_CREDENTIALS: dict[str, str] = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}

# A ListTables call, the cheapest request that proves the engine serves DynamoDB. DynamoDB Local
# answers 400 without an Authorization header and with a non-alphanumeric key id, and dynalite
# without an X-Amz-Date (or Date) header, but neither checks the signature or the date itself,
# so fixed, unsigned headers are enough.
_PROBE_HEADERS = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}
_JAVA_MAIN_DIED = 'Exception in thread "main"'


def _free_port() -> int:
    # The port is free when we look; a race with another process is possible but rare, and a
    # bind failure shows up as an EngineError with the engine's log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalDynamoDB:
    """A local DynamoDB engine in a child process, for development and tests.

    ``engine`` is ``"dynamodb-local"`` (Amazon DynamoDB Local, needs Java and, once, npm),
    ``"moto"`` (moto's server, pure Python) or ``"dynalite"`` (dynalite, a Node.js
    implementation; needs Node.js and, once, npm). Data lives in memory and is gone after
    ``stop()``.

    ``delay_transient_statuses`` only applies to DynamoDB Local (its ``-delayTransientStatuses``
    option: tables are ACTIVE at once either way, only global secondary indexes added or
    removed later stay CREATING or DELETING for a while). dynalite always keeps new tables
    CREATING, and deleted ones DELETING, for 500 ms; moto never does.

    >>> with LocalDynamoDB() as ddb:  # doctest: +SKIP
    ...     client = session.create_client("dynamodb", endpoint_url=ddb.endpoint,
    ...                                    region_name=REGION, **DUMMY_CREDENTIALS)

    ``async with LocalDynamoDB("moto") as ddb:`` works too and starts it off the event loop.
    """

    def __init__(
        self,
        engine: str = "dynamodb-local",
        *,
        port: int | None = None,
        cache_dir: str | Path | None = None,
        delay_transient_statuses: bool = False,
        startup_timeout: float = 60,
    ) -> None:
        if engine not in ENGINES:
            raise EngineError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.engine = engine
        self._requested_port = port
        self._cache_dir = cache_dir
        self._delay_transient_statuses = delay_transient_statuses
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._workdir: Path | None = None

    def __repr__(self) -> str:
        state = f"running on port {self._port}" if self.running else "stopped"
        return f"<LocalDynamoDB {self.engine} {state}>"

    @property
    def running(self) -> bool:
        """True while the engine process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The engine's process id (also its process group id), or None when not started."""
        return self._process.pid if self._process is not None else None

    @property
    def endpoint(self) -> str:
        """The URL to pass as ``endpoint_url``, e.g. ``"http://127.0.0.1:54321"``."""
        if self._process is None or self._port is None:
            raise EngineError(f"the {self.engine} engine is not started; call start() first")
        return f"http://127.0.0.1:{self._port}"

    def _command(self, port: int) -> list[str]:
        if self.engine == "moto":
            return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        if self.engine == "dynalite":
            node = shutil.which("node")
            if node is None:
                raise EngineError(
                    "dynalite needs Node.js (node) on PATH; install it, or use engine='moto'"
                )
            # dynalite's own defaults keep new tables CREATING (and deleted ones DELETING) for
            # 500 ms: kept on purpose, so that waiting for a table meets real transient states.
            cli = ensure_dynalite(self._cache_dir) / DYNALITE_CLI
            return [node, str(cli), "--host", "127.0.0.1", "--port", str(port)]
        java = shutil.which("java")
        if java is None:
            raise EngineError(
                "DynamoDB Local needs Java on PATH; install a JRE, or use engine='moto'"
            )
        emulator = ensure_dynamodb_local(self._cache_dir)
        # DynamoDB Local has no bind-address option: it listens on all interfaces.
        command = [
            java,
            f"-Djava.library.path={emulator / 'DynamoDBLocal_lib'}",
            "-jar",
            str(emulator / "DynamoDBLocal.jar"),
            *("-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)),
        ]
        return command + (["-delayTransientStatuses"] if self._delay_transient_statuses else [])

    def start(self) -> LocalDynamoDB:
        """Start the engine and wait until it answers requests; returns ``self``.

        Does nothing when already running. Raises ``EngineError`` (with the engine's log)
        when it cannot be fetched or does not come up within ``startup_timeout`` seconds.

        >>> ddb = LocalDynamoDB("moto").start()  # doctest: +SKIP
        >>> ddb.endpoint  # doctest: +SKIP
        'http://127.0.0.1:54321'
        """
        if self.running:
            return self
        self.stop()  # clean up after a process that died on its own
        port = self._requested_port or _free_port()
        command = self._command(port)
        # A log file, not a pipe: nobody reads a pipe while tests run, and a full pipe blocks.
        # Running inside this folder also keeps DynamoDB Local's metadata file out of the way.
        self._workdir = Path(tempfile.mkdtemp(prefix=f"dynamorm-{self.engine}-"))
        with (self._workdir / "engine.log").open("wb") as log:
            # Own process group: stop() can signal the whole tree, and a Ctrl-C in the
            # terminal does not reach it (atexit below stops it instead).
            self._process = subprocess.Popen(
                command,
                cwd=self._workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._port = port
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _log_text(self) -> str:
        log = self._workdir / "engine.log" if self._workdir else None
        return log.read_text(errors="replace") if log and log.is_file() else ""

    def _log_tail(self) -> str:
        return _tail(self._log_text()) or "(the log is empty)"

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        # An explicit empty ProxyHandler: an HTTP(S)_PROXY in the environment must not
        # swallow requests to 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            self.endpoint + "/", data=b"{}", headers=_PROBE_HEADERS, method="POST"
        )
        deadline = time.monotonic() + self._startup_timeout
        delay, last_error = 0.05, "no answer yet"
        # Short, growing sleeps: a ready engine is noticed within ~250 ms, not a fixed wait.
        while True:
            if (code := self._process.poll()) is not None:
                raise EngineError(
                    f"the {self.engine} engine exited with code {code} while starting; "
                    f"its log ends with:\n{self._log_tail()}"
                )
            # The JVM outlives a failed DynamoDB Local (e.g. port in use): its main thread
            # dies but other threads keep the process up, so watch the log as well.
            if _JAVA_MAIN_DIED in self._log_text():
                raise EngineError(
                    f"the {self.engine} engine failed while starting; "
                    f"its log ends with:\n{self._log_tail()}"
                )
            try:
                with opener.open(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}: {exc.read()[:200]!r}"
            except OSError as exc:  # refused or reset while the server boots
                last_error = str(exc)
            if time.monotonic() > deadline:
                raise EngineError(
                    f"the {self.engine} engine did not answer within {self._startup_timeout}s "
                    f"({last_error}); its log ends with:\n{self._log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def stop(self) -> None:
        """Stop the engine and every process it started. Safe to call more than once.

        >>> ddb.stop()  # doctest: +SKIP
        """
        process, self._process, self._port = self._process, None, None
        atexit.unregister(self.stop)
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            # The group outlives its leader while children remain; sweep them too.
            _signal_group(process.pid, signal.SIGKILL)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> LocalDynamoDB:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalDynamoDB:
        # Starting takes seconds (JVM boot, maybe a download): keep the event loop free.
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, sig)
