"""Fetch Amazon DynamoDB Local and dynalite once into the user cache, verified and atomically.

The DynamoDB Local jar is taken from an npm package (``npm pack``), because npm serves
immutable, hashed tarballs: the download is checked against a pinned sha512 before anything is
unpacked. dynalite is an npm package itself and is installed with ``npm install``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .._errors import EngineError

__all__ = [
    "DYNALITE_CLI",
    "DYNALITE_VERSION",
    "DYNAMODB_LOCAL_INTEGRITY",
    "DYNAMODB_LOCAL_VERSION",
    "default_cache_dir",
    "ensure_dynalite",
    "ensure_dynamodb_local",
    "verify_integrity",
]

DYNAMODB_LOCAL_VERSION = "1.25.1"
# Amplify's simulator package is the npm-hosted, immutable copy of DynamoDB Local 1.25.1.
_NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
DYNAMODB_LOCAL_INTEGRITY = "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="  # noqa: E501
_EMULATOR_PREFIX = "package/emulator/"
DYNALITE_VERSION = "4.0.0"
_DYNALITE_PACKAGE = f"dynalite@{DYNALITE_VERSION}"
# dynalite's "bin" entry, relative to the folder that ensure_dynalite() returns.
DYNALITE_CLI = Path("node_modules", "dynalite", "cli.js")
_MARKER = ".dynamorm-complete"


def default_cache_dir() -> Path:
    """Where downloaded engines are kept: ``$DYNAMORM_CACHE_DIR``, else the XDG user cache.

    >>> default_cache_dir()  # doctest: +SKIP
    PosixPath('/home/me/.cache/dynamorm_async')
    """
    if env := os.environ.get("DYNAMORM_CACHE_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dynamorm_async"


def verify_integrity(tarball: Path, integrity: str = DYNAMODB_LOCAL_INTEGRITY) -> None:
    """Raise ``EngineError`` unless ``tarball`` matches an npm ``sha512-<base64>`` integrity.

    >>> verify_integrity(Path("amplify-dynamodb-simulator-2.9.30.tgz"))  # doctest: +SKIP
    """
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm)
    with tarball.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    actual = base64.b64encode(digest.digest()).decode()
    if not hmac.compare_digest(actual, expected):
        raise EngineError(
            f"{tarball.name} failed its integrity check: expected {integrity}, "
            f"got {algorithm}-{actual}; refusing to use it"
        )


def _emulator_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The regular files and folders under ``package/emulator/``, renamed relative to it."""
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise EngineError(f"unsafe path in the DynamoDB Local tarball: {member.name!r}")
        if not member.name.startswith(_EMULATOR_PREFIX) or member.name == _EMULATOR_PREFIX:
            continue
        if not (member.isfile() or member.isdir()):  # links could point outside the cache
            raise EngineError(f"unexpected link or device in the tarball: {member.name!r}")
        renamed = copy.copy(member)
        renamed.name = member.name[len(_EMULATOR_PREFIX) :]
        yield renamed


def _extract_emulator(tarball: Path, dest: Path) -> None:
    """Extract only the emulator (the jar and its libraries) from ``tarball`` into ``dest``."""
    # The "data" filter (when this Python has it) re-checks every path; it also silences the
    # 3.12+ DeprecationWarning about extracting without a filter.
    extra: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(dest, members=list(_emulator_members(tar)), **extra)
    if not (dest / "DynamoDBLocal.jar").is_file():
        raise EngineError(f"{tarball.name} holds no {_EMULATOR_PREFIX}DynamoDBLocal.jar")


def ensure_dynamodb_local(cache_dir: str | Path | None = None) -> Path:
    """Return the folder holding ``DynamoDBLocal.jar``, fetching it with npm on first use.

    Safe when several processes call it at once, and atomic: an interrupted fetch leaves
    nothing behind that a later call would mistake for a complete install.

    >>> ensure_dynamodb_local()  # doctest: +SKIP
    PosixPath('/home/me/.cache/dynamorm_async/dynamodb-local-1.25.1')
    """

    def stage(npm: str, work: Path) -> Path:
        _run_npm(npm, ["pack", _NPM_PACKAGE, "--silent"], work)
        tarballs = list(work.glob("*.tgz"))
        if len(tarballs) != 1:
            raise EngineError(f"`npm pack {_NPM_PACKAGE}` left {len(tarballs)} tarballs, not 1")
        verify_integrity(tarballs[0])
        staged = work / "emulator"
        _extract_emulator(tarballs[0], staged)
        return staged

    return _install_once(
        cache_dir,
        "dynamodb-local",
        DYNAMODB_LOCAL_VERSION,
        what="DynamoDB Local",
        note=f"{_NPM_PACKAGE} {DYNAMODB_LOCAL_INTEGRITY}",
        stage=stage,
    )


def ensure_dynalite(cache_dir: str | Path | None = None) -> Path:
    """Return the folder dynalite is installed in, installing it with npm on first use.

    Its command-line script is ``DYNALITE_CLI`` inside that folder. Safe when several
    processes call it at once, and atomic, like ``ensure_dynamodb_local``.

    >>> ensure_dynalite()  # doctest: +SKIP
    PosixPath('/home/me/.cache/dynamorm_async/dynalite-4.0.0')
    """

    def stage(npm: str, work: Path) -> Path:
        staged = work / "dynalite"
        staged.mkdir()
        # npm checks every tarball it installs (dynalite and its dependencies) against the
        # sha512 integrity that the registry publishes for it, and refuses a mismatch. Only
        # dynalite itself is pinned: its dependencies resolve within its declared ranges.
        # --no-save: no package.json or lockfile is written into the folder.
        args = ["install", "--prefix", str(staged), "--no-audit", "--no-fund"]
        _run_npm(npm, [*args, "--loglevel=error", "--no-save", _DYNALITE_PACKAGE], work)
        if not (staged / DYNALITE_CLI).is_file():
            raise EngineError(f"`npm install {_DYNALITE_PACKAGE}` gave no {DYNALITE_CLI}")
        return staged

    return _install_once(
        cache_dir,
        "dynalite",
        DYNALITE_VERSION,
        what="dynalite",
        note=_DYNALITE_PACKAGE,
        stage=stage,
    )


def _install_once(
    cache_dir: str | Path | None,
    name: str,
    version: str,
    *,
    what: str,
    note: str,
    stage: Callable[[str, Path], Path],
) -> Path:
    """Return ``<cache>/<name>-<version>``, built by ``stage(npm, work)`` when not there yet.

    ``stage`` fills a folder inside the empty temporary folder ``work`` and returns it; that
    folder gets a marker file (holding ``note``) and is renamed into place. Only a folder
    with its marker counts as installed. ``what`` names the engine in error messages.
    """
    import fcntl  # POSIX only; imported here so that moto still works elsewhere

    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / f"{name}-{version}"
    if (target / _MARKER).is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise EngineError(
            f"fetching {what} needs npm (Node.js) on PATH; install it, or use engine='moto'"
        )
    cache.mkdir(parents=True, exist_ok=True)
    # One lock per engine: fetching one does not hold up the other.
    with (cache / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (target / _MARKER).is_file():  # another process fetched it while we waited
            return target
        # The temporary folder sits next to the target so the final rename stays atomic.
        with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
            staged = stage(npm, Path(tmp))
            (staged / _MARKER).write_text(note + "\n")
            if target.exists():  # a stale copy without its marker (older or hand-made)
                shutil.rmtree(target)
            staged.rename(target)
    return target


def _run_npm(npm: str, args: list[str], cwd: Path) -> None:
    """Run ``npm`` with ``args`` in ``cwd``; raise ``EngineError`` with its output on failure."""
    shown = " ".join(["npm", *args])
    try:
        proc = subprocess.run([npm, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"`{shown}` took over 15 minutes") from exc
    if proc.returncode != 0:
        raise EngineError(
            f"`{shown}` failed (exit {proc.returncode}):\n" + _tail(proc.stderr or proc.stdout)
        )


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
