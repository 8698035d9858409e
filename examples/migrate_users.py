"""A data migration script: every user from ``UserV1`` to ``UserV2``, with a backup taken
first, parallel scan segments, a progress bar, an optional write budget, a final report in
plain words, and ``--resume`` after any interruption, a kill included.

The change, in ``upgrade``:

- ``full_name`` is split into ``first_name`` and ``last_name``;
- ``mail`` is renamed ``email``;
- ``email_domain`` is derived from it (and indexed, to list a company's users);
- ``fax`` is dropped.

How it runs: ``db.tables.auto_migrate`` copies the source table into a backup table first
(created like the live source table); then ``db.tables.copy`` copies every user through
``upgrade`` into the new table, with a parallel scan of ``--segments`` segments and at most
``--concurrency`` batch writes in flight. ``--max-write-units N`` keeps each of the two
copies under N write capacity units a second (all segments together), to leave the rest of
the table's throughput to the application; without it they go as fast as DynamoDB allows.
A user takes one unit a KB, and as many again for each index it goes in: a V2 user (under
1 KB, and in the email-domain index) takes 2, so ``--max-write-units 1000`` copies about
500 users a second.

Where the migration stands is saved as it goes, in the state file ``--checkpoint``: when
the backup starts, when it is done, and after every page of users the copy has written
(``--page-size`` users of one segment). The file is written to a temporary file first and
then renamed over the old one, so it is never half written: a crash leaves either the old
position or the new one. So from the script's first line of output on, however it stops,
``--resume`` goes on from where it was:

- Ctrl-C or SIGTERM: the writes in flight finish, the exact position is saved, and the
  script exits with status 130.
- An error (DynamoDB unreachable for good, a user ``upgrade`` cannot convert): the
  position is saved, and the script exits with status 1.
- A kill that gives it no chance to do anything (SIGKILL, out of memory, a spot instance
  taken back, a Lambda timeout, a power cut): the file holds the position after the last
  page written before the kill. A copy resumed from there writes the pages that were in
  flight again, which does no harm (the same users, written over themselves). A backup
  that was cut off is taken again from the start, over what it had written.

What a killed run cannot keep is an exact count of what it did: after a kill, the report at
the end says "about" for the users read and written over all the runs, and its last line,
which counts the two tables, is the figure to trust. When the migration completes, the
state file is deleted. A state file that is there without ``--resume`` stops the script,
rather than start the migration over; delete it to start again from the beginning. (A run
stopped before its first line, while ``--seed`` stores the demo users for instance, has
left nothing to resume: run the same command again.)

Run it locally::

    python examples/migrate_users.py --seed 5000

With no ``AWS_ENDPOINT_URL_DYNAMODB`` set, it starts DynamoDB Local for the run (gone
afterwards, so there is nothing to resume) and stores ``--seed`` users (default 2,000) first.
To try ``--resume``, keep a database running (``python examples/local_dev.py``) and export
what it prints; ``TABLE_PREFIX`` (optional) goes in front of every table name. Against AWS,
set ``AWS_ENDPOINT_URL_DYNAMODB=https://dynamodb.<region>.amazonaws.com`` and the usual
credentials, and leave out ``--seed``.

Exit status: 0 done, 1 a copy failed (the position is saved), 2 nothing was done (a
problem with the arguments, the state file or the tables), 130 interrupted (the position is
saved).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs
from tqdm import tqdm  # type: ignore[import-untyped]

from dynamorm_async import (
    GlobalIndex,
    MigrationError,
    MigrationReport,
    Progress,
    Session,
    ValidationError,
    model,
)

T = TypeVar("T")

# -- the models and the transform ----------------------------------------------------------


@model(table="users_v1", hash_key="user_id")
@attrs.define
class UserV1:
    user_id: str
    full_name: str
    mail: str
    signed_up: date
    fax: str | None = None


@model(
    table="users_v2",
    hash_key="user_id",
    indexes=[GlobalIndex("by_email_domain", hash_key="email_domain", range_key="user_id")],
)
@attrs.define
class UserV2:
    user_id: str
    first_name: str
    last_name: str
    email: str
    email_domain: str
    signed_up: date


def upgrade(user: UserV1) -> UserV2:
    """One V1 user as V2: the name split at its first space ("Ada King Lovelace" -> "Ada",
    "King Lovelace"; a single name is a first name), ``mail`` renamed, the domain derived,
    ``fax`` dropped."""
    first, _, last = " ".join(user.full_name.split()).partition(" ")
    return UserV2(
        user_id=user.user_id,
        first_name=first,
        last_name=last,
        email=user.mail,
        email_domain=user.mail.rpartition("@")[2].lower(),
        signed_up=user.signed_up,
    )


_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Allen"]
_DOMAINS = ["example.com", "Example.org", "mail.test"]


def make_users(n: int) -> list[UserV1]:
    """``n`` V1 users, always the same ones for the same ``n`` (for the demo and tests):
    some with a middle name or a single name, some with a fax number."""
    users = []
    for i in range(n):
        first, last = _FIRST[i % len(_FIRST)], _LAST[i % len(_LAST)]
        full_name = {0: first, 1: f"{first} Q. {last}"}.get(i % 13, f"{first} {last}")
        users.append(
            UserV1(
                user_id=f"user-{i:06d}",
                full_name=full_name,
                mail=f"{first.lower()}.{i}@{_DOMAINS[i % len(_DOMAINS)]}",
                signed_up=date(2020, 1, 1) + timedelta(days=i % 2000),
                fax=f"+1-555-{i % 10000:04d}" if i % 4 == 0 else None,
            )
        )
    return users


# -- progress, the state file, stopping ----------------------------------------------------


class ProgressBar:
    """A tqdm bar fed by the copy's ``on_progress`` snapshots (a few a second). It counts
    the users done (written, skipped or failed), not those read: reading runs ahead."""

    def __init__(self, what: str, total: int | None, done_before: int = 0) -> None:
        self.before = done_before
        self.bar = tqdm(desc=what, total=total, initial=done_before, unit=" users", file=sys.stderr)
        self.last: Progress | None = None  # the newest snapshot

    def __call__(self, progress: Progress) -> None:
        self.last = progress
        done = progress.written + progress.skipped + progress.failed
        self.bar.update(self.before + done - self.bar.n)
        if progress.failed or progress.retried:
            self.bar.set_postfix(failed=progress.failed, retried=progress.retried)

    def close(self) -> None:
        self.bar.close()


# The state file: {"phase": ..., "checkpoint": ..., the counts, "exact": ..., ...}.
# - "backup": the backup is under way; "overwrite_backup" says whether the backup table may
#   be written over (it was created or found empty by this migration, or --overwrite-backup).
# - "migrate": the backup is done and the copy goes on from "checkpoint" (None: the start).
# - "done": the copy completed; only the final check is left.
_PHASES = ("backup", "migrate", "done")
_COUNTS = ("scanned", "written", "skipped", "failed")  # the copy's, summed over its runs
Counts = dict[str, int]


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace ``path`` with ``state`` atomically: the JSON goes to a temporary file in the
    same directory, is flushed to the disk, and is renamed over ``path``, so that a crash at
    any moment leaves either the old file or the new one, whole."""
    state = {**state, "saved_at": datetime.now(timezone.utc).isoformat()}
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(state, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    try:  # and the rename itself, where the system allows it (not on Windows)
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def save_state(
    path: Path,
    phase: str,
    *,
    checkpoint: dict[str, Any] | None = None,
    counts: Counts | None = None,
    exact: bool = True,
    overwrite_backup: bool = False,
) -> None:
    """Save where the migration stands (see ``_PHASES``), and the copy's counts so far."""
    state: dict[str, Any] = {"phase": phase, "checkpoint": checkpoint}
    state.update(counts or dict.fromkeys(_COUNTS, 0))
    state["exact"] = exact  # False once a run may have been killed: counts are then a guess
    if phase == "backup":
        state["overwrite_backup"] = overwrite_backup
    write_state(path, state)


def load_checkpoint(path: Path, resume: bool) -> dict[str, Any] | None:
    """The state an interrupted run saved (``{}`` for a first run), or None (after saying
    why) when the file's presence does not fit ``--resume``, or it is not a state file."""
    if resume and not path.exists():
        print(f"Nothing to resume: {path} does not exist.")
        return None
    if not resume and path.exists():
        print(
            f"{path} holds the state of an unfinished migration: pass --resume to go on "
            "with it, or delete the file to start again from the beginning."
        )
        return None
    if not resume:
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{path} cannot be read as a state file: {exc}")
        return None
    if not isinstance(state, dict) or state.get("phase") not in _PHASES:
        print(f"{path} is not a state file of this script (no phase {', '.join(_PHASES)}).")
        return None
    return state


def forget_checkpoint(path: Path) -> None:
    """Remove the state file of a migration that completed."""
    path.unlink(missing_ok=True)


def add_counts(before: Counts, report: MigrationReport | Progress | None) -> Counts:
    """``before`` plus a run's counts."""
    return {n: before[n] + (getattr(report, n) if report is not None else 0) for n in _COUNTS}


async def until_stopped(work: Awaitable[T]) -> T:
    """Run ``work`` as a task that Ctrl-C or SIGTERM cancels. A copy answers a cancellation
    by stopping cleanly and returning its report (with a checkpoint) instead of raising."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


# -- the migration -------------------------------------------------------------------------


def _n(count: int) -> str:
    return f"{count:,}"


async def seed(db: Session, n: int) -> int:
    """Create the V1 table if needed and store ``n`` generated users; how many it stored."""
    await db.tables.ensure(UserV1)
    return await db.batch_write(put=make_users(n), concurrency=16)


async def holds_items(db: Session, table: str) -> bool:
    """Whether ``table`` (of V1 users) exists and holds any item."""
    if not await db.tables.exists(UserV1, table_name=table):
        return False
    return await db.scan(UserV1, table_name=table, limit=1).first() is not None


def backup_table(db: Session) -> str:
    """The physical name of the backup table."""
    return db.table_prefix + "users_v1_backup"


async def may_overwrite_backup(
    db: Session, args: argparse.Namespace, saved: dict[str, Any]
) -> bool:
    """Whether the backup may write over items the backup table holds: when asked to, when
    they are what a stopped run of this migration wrote, and when there are none."""
    if args.overwrite_backup:
        return True
    if args.resume:  # a backup that a stopped run began: taken again over what it wrote
        return bool(saved.get("overwrite_backup"))
    return not await holds_items(db, backup_table(db))  # items from before: only if asked


async def take_backup(
    db: Session, args: argparse.Namespace, path: Path, overwrite: bool
) -> MigrationReport | int:
    """Copy the V1 table as it is into the backup table (created like it); the backup's
    report, or the exit status when it was not taken."""
    backup = backup_table(db)
    total = (await db.tables.describe(UserV1)).item_count  # approximate on AWS
    print(f"Backing up {db.table_name(UserV1)} into {backup} ...", flush=True)
    bar = ProgressBar("backup", total)
    try:
        report = await until_stopped(
            db.tables.auto_migrate(
                UserV1,
                backup_table=backup,
                overwrite_backup=overwrite,
                segments=args.segments,
                concurrency=args.concurrency,
                page_size=args.page_size,
                max_write_units=args.max_write_units,
                on_progress=bar,
            )
        )
    except MigrationError as exc:  # the backup is incomplete: nothing was migrated
        interrupted = exc.report.stopped == "cancelled"
        print(f"\n{'Interrupted' if interrupted else 'Failed'}: {exc}.")
        print(f"Run again with --resume to take the backup again (the state is in {path}).")
        return 130 if interrupted else 1
    except ValidationError as exc:  # e.g. a non-empty backup table from a past run
        forget_checkpoint(path)  # nothing was done: nothing to resume
        print(f"\nThe backup cannot be taken: {exc}")
        print("Pass --overwrite-backup to take it again over the old one.")
        return 2
    finally:
        bar.close()
    assert report.backup is not None
    save_state(path, "migrate")  # the copy, from the start
    return report.backup


async def copy(
    db: Session,
    args: argparse.Namespace,
    path: Path,
    resume: dict[str, Any] | None,
    before: Counts,
    exact: bool,
) -> MigrationReport | int:
    """Copy every V1 user through ``upgrade`` into the V2 table (from ``resume`` on), with
    the counts ``before`` of the earlier runs (``exact`` or not); the report, or the exit
    status of a run that stopped early, after saying so."""
    await db.tables.ensure(UserV2)
    total = (await db.tables.describe(UserV1)).item_count
    source, target = db.table_name(UserV1), db.table_name(UserV2)
    print(f"Copying {source} -> {target} ...", flush=True)
    bar = ProgressBar("migrate", total, before["written"])

    def on_checkpoint(checkpoint: dict[str, Any] | None) -> None:
        # After each page's writes: the position that resumes right after them (None when
        # every segment is done). The counts are the bar's latest snapshot, a moment old:
        # approximate, and marked so, for the case this run is killed before it ends.
        phase = "done" if checkpoint is None else "migrate"
        counts = add_counts(before, bar.last)
        save_state(path, phase, checkpoint=checkpoint, counts=counts, exact=False)

    def stopped_at(report: MigrationReport) -> str:
        """Save the exact position and counts of a run that stopped cleanly; what to say."""
        phase = "done" if report.checkpoint is None else "migrate"
        try:
            counts = add_counts(before, report)
            save_state(path, phase, checkpoint=report.checkpoint, counts=counts, exact=exact)
        except OSError as exc:  # the last position saved is still in the file
            return f"The state could not be saved ({exc}); {path} holds the last one saved."
        return f"The state is saved in {path}."

    try:
        report = await until_stopped(
            db.tables.copy(
                UserV1,
                UserV2,
                transform=upgrade,
                segments=args.segments,
                concurrency=args.concurrency,
                page_size=args.page_size,
                max_write_units=args.max_write_units,
                resume=resume,
                on_progress=bar,
                on_checkpoint=on_checkpoint,
                verify=resume is None,  # a resumed run counts the tables itself, at the end
            )
        )
    except MigrationError as exc:
        note = stopped_at(exc.report)
        print(f"\nThe copy failed: {exc}")
        print(f"{note} Fix the cause, then run again with --resume.")
        return 1
    finally:
        bar.close()
    if report.checkpoint is not None:
        note = stopped_at(report)
        written = before["written"] + report.written
        about = "" if exact else "about "
        print(
            f"\nInterrupted: {about}{_n(written)} users written so far. {note} Run again "
            "with --resume to continue where this run stopped."
        )
        return 130
    return report


async def check_counts(db: Session, report: MigrationReport | None) -> None:
    """Print whether the V2 table holds one user for each V1 user, as ``upgrade`` makes
    them: counted by the copy (``verify=True``), else here."""
    if report is not None and report.verification is not None:
        source_items = report.verification.source_items
        target_items = report.verification.target_items
    else:
        source_items = await db.scan(UserV1).count()
        target_items = await db.scan(UserV2).count()
    source, target = db.table_name(UserV1), db.table_name(UserV2)
    verdict = "one for each V1 user" if target_items == source_items else "a MISMATCH"
    print(
        f"  check:   {target} holds {_n(target_items)} users and {source} "
        f"{_n(source_items)}: {verdict}"
    )


async def report_done(
    db: Session,
    report: MigrationReport,
    backup: MigrationReport | None,
    before: Counts | None,
    exact: bool,
) -> None:
    """Print what the migration did, in words, and check the counts. ``before``: the counts
    of the copy's earlier runs (None when it started in this run); ``exact``: whether they
    are (not after a kill)."""
    total = add_counts(before or dict.fromkeys(_COUNTS, 0), report)
    about = "" if exact else "about "
    print(f"\nMigrated {report.source} -> {report.target}.")
    if before is not None:
        print(
            f"This run resumed an interrupted one: {_n(report.written)} users written now, "
            f"{about}{_n(before['written'])} before."
        )
    if not exact:
        print("A run was killed on the way, so the counts over all the runs are approximate:")
        print("the users it was writing were written again, and counted twice or not at all.")
        print("The check at the end counts the tables.")
    print(f"  read:    {about}{_n(total['scanned'])} users")
    print(f"  written: {about}{_n(total['written'])} users")
    print(f"  skipped: {about}{_n(total['skipped'])}, failed: {about}{_n(total['failed'])}")
    print(f"  retried: {_n(report.retried)} batch requests (throttling, partial batches)")
    print(
        f"  time:    {report.duration:.1f} s for this run "
        f"({report.items_per_second:,.0f} users a second)"
    )
    if backup is not None:
        print(f"  backup:  {_n(backup.written)} users in {backup.target}")
    await check_counts(db, report)


async def migrate(args: argparse.Namespace, saved: dict[str, Any]) -> int:
    """The whole run, from the saved state ``saved`` (empty for a first run); returns the
    exit status."""
    path = Path(args.checkpoint)
    phase = saved.get("phase", "backup")
    async with Session(table_prefix=os.environ.get("TABLE_PREFIX", "")) as db:
        seeded = await seed(db, args.seed) if args.seed else None
        overwrite = False
        if phase == "backup":  # saved before the first line: from then on, --resume works
            overwrite = await may_overwrite_backup(db, args, saved)
            save_state(path, "backup", overwrite_backup=overwrite)
        if seeded is not None:
            print(f"Stored {_n(seeded)} V1 users in {db.table_name(UserV1)}.", flush=True)
        if not args.resume:
            print(
                f"The migration's state is saved in {path} as it goes: if this run stops "
                "in any way, run again with --resume.",
                flush=True,
            )
        backup = None
        if phase == "backup":
            taken = await take_backup(db, args, path, overwrite)
            if isinstance(taken, int):
                return taken
            backup, saved = taken, {}
        elif phase == "done":
            print("The copy had completed when the last run stopped; counting the tables.")
            await check_counts(db, None)
            forget_checkpoint(path)
            return 0
        resumed = bool(saved)  # the copy was under way before this run
        before: Counts = {n: int(saved.get(n, 0)) for n in _COUNTS}
        exact = bool(saved.get("exact", True))
        report = await copy(db, args, path, saved.get("checkpoint"), before, exact)
        if isinstance(report, int):
            return report
        forget_checkpoint(path)
        await report_done(db, report, backup, before if resumed else None, exact)
        return 0


@contextmanager
def local_database() -> Iterator[None]:
    """Use ``AWS_ENDPOINT_URL_DYNAMODB`` when it is set; else start DynamoDB Local for the
    run and point the environment (which ``Session()`` reads) at it."""
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        yield
        return
    from dynamorm_async.testing import DUMMY_CREDENTIALS, REGION, LocalDynamoDB

    print("No AWS_ENDPOINT_URL_DYNAMODB set: starting DynamoDB Local for this run ...")
    with LocalDynamoDB() as local:
        os.environ.update(
            AWS_ENDPOINT_URL_DYNAMODB=local.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID=DUMMY_CREDENTIALS["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=DUMMY_CREDENTIALS["aws_secret_access_key"],
        )
        yield


def units(text: str) -> float:
    """A capacity budget from the command line: a number of units a second, above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of units above 0, got {text!r}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Migrate users from UserV1 to UserV2, backing them up first.",
        epilog="The state file is saved as the migration goes (when the backup starts and "
        "ends, and after every page the copy writes): after Ctrl-C, an error or even a kill, "
        "run again with --resume to go on from there.",
    )
    parser.add_argument("--seed", type=int, metavar="N", help="store N generated V1 users first")
    parser.add_argument("--segments", type=int, default=8, help="parallel scan segments")
    parser.add_argument("--concurrency", type=int, default=8, help="batch writes in flight")
    parser.add_argument(
        "--page-size", type=int, default=500, help="items per scan page (checkpoint steps)"
    )
    parser.add_argument(
        "--max-write-units",
        type=units,
        metavar="N",
        help="write at most N capacity units a second, all segments together, in the backup "
        "and in the copy (a user takes a unit for each KB it has, and as many again for each "
        "index it goes in: 2 for a V2 user); default: as fast as DynamoDB allows",
    )
    parser.add_argument(
        "--checkpoint",
        default="users_migration.checkpoint.json",
        help="the state file, where the migration saves its position as it goes",
    )
    parser.add_argument(
        "--resume", action="store_true", help="go on from the state file after a stop"
    )
    parser.add_argument(
        "--overwrite-backup", action="store_true", help="write over a non-empty backup table"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the migration as the command line asks; returns the exit status."""
    args = parse_args(argv)
    saved = load_checkpoint(Path(args.checkpoint), args.resume)
    if saved is None:
        return 2
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):  # a database just for this run
        if args.resume:
            print("--resume needs a database that outlives a run: set AWS_ENDPOINT_URL_DYNAMODB.")
            return 2
        if args.seed is None:
            args.seed = 2_000  # it starts empty: give the migration something to do
    with local_database():
        try:
            return asyncio.run(migrate(args, saved))
        except KeyboardInterrupt:  # outside the copies, which stop cleanly on their own
            print(
                f"\nInterrupted. Run again with --resume if {args.checkpoint} exists, else "
                "as before."
            )
            return 130


if __name__ == "__main__":
    sys.exit(main())
