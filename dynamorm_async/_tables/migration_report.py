"""What a data copy reports: ``MigrationReport``, ``Progress`` snapshots, failures, the
verification, and the checkpoint that resumes a copy exactly where it stopped.

A checkpoint is a plain JSON-serialisable dict: store it anywhere (a file, a Step Functions
state, a message) and pass it back as ``resume=``. It holds, for every segment not finished,
the key the next page starts from; nothing else is stored anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import ValidationError
from .._ops.cursor import key_from_json, key_to_json

__all__ = [
    "Failure",
    "MigrationReport",
    "Progress",
    "SegmentReport",
    "TaskReport",
    "Verification",
    "checkpoint_of",
    "read_checkpoint",
]

_CHECKPOINT_VERSION = 1


@attrs.frozen
class Failure:
    """One item that could not be copied: its key (wire form) and the error."""

    key: dict[str, Any]
    error: BaseException


@attrs.frozen
class SegmentReport:
    """Counts of one scan segment; ``done`` when it was read to its end."""

    segment: int
    scanned: int
    written: int
    done: bool


@attrs.frozen
class Verification:
    """Counts taken after a complete copy: the source's items, the target's items, and how
    many the target should hold (``expected``: what the copy wrote, for a target that was
    empty; the source's count for an in-place rewrite). ``matches`` when target and expected
    agree."""

    source_items: int
    target_items: int
    expected: int

    @property
    def matches(self) -> bool:
        """True when the target holds what the copy wrote."""
        return self.target_items == self.expected


@attrs.frozen
class Progress:
    """A snapshot handed to ``on_progress`` a few times a second and once at the end.

    ``read_units``/``write_units`` are the capacity the copy consumed so far (None unless
    consumed capacity is being asked for: a request callback, a tracer, a budget, or
    ``Session(consumed_capacity=True)``); ``current_rate`` the items scanned per second
    since the previous snapshot (None for the first). ``conflicts``, ``existing`` and
    ``already`` are counted as in ``MigrationReport``."""

    scanned: int
    written: int
    skipped: int
    failed: int
    retried: int
    segments_done: int
    segments: int
    elapsed: float
    read_units: float | None = None
    write_units: float | None = None
    current_rate: float | None = None
    conflicts: int = 0
    existing: int = 0
    already: int = 0

    @property
    def items_per_second(self) -> float:
        """Items scanned per second so far."""
        return self.scanned / self.elapsed if self.elapsed > 0 else 0.0


@attrs.frozen
class TaskReport:
    """One task of a copy run as a Spark job (``dynamorm_async.spark.copy``): its
    segments, when it started (``time.time()``, the executor's clock), how long it ran,
    Spark's attempt number and partition, and what it read and wrote."""

    segments: tuple[int, ...]
    started: float
    duration: float
    attempt: int
    partition: int
    scanned: int
    written: int
    write_units: float | None = None


@attrs.frozen
class MigrationReport:
    """What a copy (or ``auto_migrate``) did.

    ``scanned`` items read from the source, ``written`` items written to the target (or that
    would have been, with ``dry_run``), ``skipped`` items the transform dropped (returned
    None), ``failed`` items whose transform or write failed (``failures`` holds each, with
    ``on_error="skip"``), ``retried`` the batch requests sent again (unprocessed items,
    throttles, 5xx, lost connections). ``checkpoint`` is None when every segment was copied
    to its end; otherwise pass it as ``resume=`` to continue. ``stopped`` says why a copy
    ended early: ``"deadline"``, ``"cancelled"`` or ``"error"``. ``read_units`` and
    ``write_units`` are the capacity the copy consumed, when it was asked for (a budget, a
    request callback, a tracer, or ``Session(consumed_capacity=True)``; else None).

    On live tables: ``conflicts`` counts the items the application changed between the scan
    and the copy's checked write (each was read, transformed and written again; ``retried``
    includes those), ``existing`` the items a ``skip_existing`` copy found in the target
    and kept, ``already`` the items that carried the copy's ``mark`` and were left alone::

        report = await db.tables.copy(UserV1, UserV2, transform=upgrade, deadline=soon)
        if report.checkpoint is not None:
            save(report.checkpoint)              # JSON-serialisable
    """

    source: str
    target: str | None
    scanned: int
    written: int
    skipped: int
    failed: int
    retried: int
    failures: tuple[Failure, ...]
    segments: tuple[SegmentReport, ...]
    duration: float
    checkpoint: dict[str, Any] | None
    stopped: str | None
    dry_run: bool
    verification: Verification | None = None
    backup: MigrationReport | None = None
    read_units: float | None = None
    write_units: float | None = None
    conflicts: int = 0
    existing: int = 0
    already: int = 0
    tasks: tuple[TaskReport, ...] = ()

    @property
    def items_per_second(self) -> float:
        """Items scanned per second over the whole copy."""
        return self.scanned / self.duration if self.duration > 0 else 0.0

    @property
    def complete(self) -> bool:
        """True when every segment was copied to its end."""
        return self.checkpoint is None


def checkpoint_of(
    source: str, total_segments: int, starts: Mapping[int, dict[str, Any] | None]
) -> dict[str, Any] | None:
    """The checkpoint for the unfinished segments ``starts`` (segment -> key the next page
    starts from, None to start from the beginning); None when nothing is left."""
    if not starts:
        return None
    return {
        "v": _CHECKPOINT_VERSION,
        "source": source,
        "total_segments": total_segments,
        "segments": {
            str(s): None if key is None else {n: key_to_json(av) for n, av in key.items()}
            for s, key in sorted(starts.items())
        },
    }


def read_checkpoint(checkpoint: Any, source: str) -> tuple[int, dict[int, dict[str, Any] | None]]:
    """(total_segments, segment -> start key) from a checkpoint; ``ValidationError`` when it
    is not one, or belongs to another source table."""
    try:
        if checkpoint.get("v") != _CHECKPOINT_VERSION:
            raise ValueError(f"unknown checkpoint version {checkpoint.get('v')!r}")
        if checkpoint["source"] != source:
            raise ValueError(f"it is for table {checkpoint['source']!r}, not {source!r}")
        total = int(checkpoint["total_segments"])
        starts: dict[int, dict[str, Any] | None] = {}
        for s, key in checkpoint["segments"].items():
            segment = int(s)
            if not 0 <= segment < total:
                raise ValueError(f"segment {segment} is outside 0..{total - 1}")
            starts[segment] = (
                None if key is None else {str(n): key_from_json(av) for n, av in key.items()}
            )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"invalid resume checkpoint: {exc}") from None
    return total, starts
