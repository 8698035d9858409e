"""A data migration script: every user from ``UserV1`` to ``UserV2``, with a backup taken
first, parallel scan segments, a progress bar, a final report in plain words, and
``--resume`` after an interruption.

The change, in ``upgrade``:

- ``full_name`` is split into ``first_name`` and ``last_name``;
- ``mail`` is renamed ``email``;
- ``email_domain`` is derived from it (and indexed, to list a company's users);
- ``fax`` is dropped.

How it runs: ``db.tables.auto_migrate`` copies the source table into a backup table first
(created like the live source table); then ``db.tables.copy`` copies every user through
``upgrade`` into the new table, with a parallel scan of ``--segments`` segments and at most
``--concurrency`` batch writes in flight. Ctrl-C (or SIGTERM) stops the copy cleanly: the
writes in flight finish, and the copy's checkpoint (where each unfinished segment goes on)
is saved to ``--checkpoint``; ``--resume`` continues from it, reading nothing twice.

Run it locally::

    python examples/migrate_users.py --seed 5000

With no ``AWS_ENDPOINT_URL_DYNAMODB`` set, it starts DynamoDB Local for the run (gone
afterwards, so there is nothing to resume) and stores ``--seed`` users (default 2,000) first.
To try ``--resume``, keep a database running (``python examples/local_dev.py``) and export
what it prints; ``TABLE_PREFIX`` (optional) goes in front of every table name. Against AWS,
set ``AWS_ENDPOINT_URL_DYNAMODB=https://dynamodb.<region>.amazonaws.com`` and the usual
credentials, and leave out ``--seed``.

Exit status: 0 done, 1 the copy failed (a checkpoint is saved), 2 nothing was done (a
problem with the arguments or the tables), 130 interrupted.
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
from tqdm import tqdm

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


# -- progress, checkpoints, stopping -----------------------------------------------------


class ProgressBar:
    """A tqdm bar fed by the copy's ``on_progress`` snapshots (a few a second). It counts
    the users done (written, skipped or failed), not those read: reading runs ahead."""

    def __init__(self, what: str, total: int | None, done_before: int = 0) -> None:
        self.before = done_before
        self.bar = tqdm(desc=what, total=total, initial=done_before, unit=" users", file=sys.stderr)

    def __call__(self, progress: Progress) -> None:
        done = progress.written + progress.skipped + progress.failed
        self.bar.update(self.before + done - self.bar.n)
        if progress.failed or progress.retried:
            self.bar.set_postfix(failed=progress.failed, retried=progress.retried)

    def close(self) -> None:
        self.bar.close()


_COUNTS = ("scanned", "written", "skipped", "failed")  # summed over the runs of a migration


def save_checkpoint(path: Path, report: MigrationReport, before: dict[str, Any]) -> None:
    """Write the report's checkpoint and the counts so far to ``path``, atomically (a crash
    while writing leaves the previous file)."""
    state: dict[str, Any] = {n: before.get(n, 0) + getattr(report, n) for n in _COUNTS}
    state["checkpoint"] = report.checkpoint
    state["saved_at"] = datetime.now(timezone.utc).isoformat()
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=1))
    os.replace(partial, path)


def load_checkpoint(path: Path, resume: bool) -> dict[str, Any] | None:
    """The state an interrupted run saved (``{}`` for a first run), or None (after saying
    why) when the file's presence does not fit ``--resume``."""
    if resume and not path.exists():
        print(f"Nothing to resume: {path} does not exist.")
        return None
    if not resume and path.exists():
        print(
            f"{path} holds the checkpoint of an unfinished migration: pass --resume to go on "
            "with it, or delete the file to start again from the beginning."
        )
        return None
    state: dict[str, Any] = json.loads(path.read_text()) if resume else {}
    return state


def forget_checkpoint(path: Path) -> None:
    """Remove the checkpoint of a migration that completed."""
    path.unlink(missing_ok=True)


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


async def seed(db: Session, n: int) -> None:
    """Create the V1 table if needed and store ``n`` generated users."""
    await db.tables.ensure(UserV1)
    written = await db.batch_write(put=make_users(n), concurrency=16)
    print(f"Stored {_n(written)} V1 users in {db.table_name(UserV1)}.", flush=True)


async def take_backup(db: Session, args: argparse.Namespace) -> MigrationReport:
    """Copy the V1 table as it is into the backup table (created like it)."""
    backup_table = db.table_prefix + "users_v1_backup"
    total = (await db.tables.describe(UserV1)).item_count  # approximate on AWS
    print(f"Backing up {db.table_name(UserV1)} into {backup_table} ...", flush=True)
    bar = ProgressBar("backup", total)
    try:
        report = await until_stopped(
            db.tables.auto_migrate(
                UserV1,
                backup_table=backup_table,
                overwrite_backup=args.overwrite_backup,
                segments=args.segments,
                concurrency=args.concurrency,
                on_progress=bar,
            )
        )
    finally:
        bar.close()
    assert report.backup is not None
    return report.backup


async def copy(
    db: Session, args: argparse.Namespace, resume: dict[str, Any] | None, before: dict[str, Any]
) -> MigrationReport:
    """Copy every V1 user through ``upgrade`` into the V2 table (from ``resume`` on)."""
    await db.tables.ensure(UserV2)
    total = (await db.tables.describe(UserV1)).item_count
    source, target = db.table_name(UserV1), db.table_name(UserV2)
    print(f"Copying {source} -> {target} ...", flush=True)
    bar = ProgressBar("migrate", total, before.get("written", 0))
    try:
        return await until_stopped(
            db.tables.copy(
                UserV1,
                UserV2,
                transform=upgrade,
                segments=args.segments,
                concurrency=args.concurrency,
                page_size=args.page_size,
                resume=resume,
                on_progress=bar,
                verify=resume is None,  # a resumed run counts the tables itself, below
            )
        )
    finally:
        bar.close()


async def report_done(
    db: Session, report: MigrationReport, backup: MigrationReport | None, before: dict[str, Any]
) -> None:
    """Print what the migration did, in words, and check the counts."""
    total = {n: before.get(n, 0) + getattr(report, n) for n in _COUNTS}
    print(f"\nMigrated {report.source} -> {report.target}.")
    if before:
        print(
            f"This run resumed an interrupted one: {_n(report.written)} users written now, "
            f"{_n(before.get('written', 0))} before."
        )
    print(f"  read:    {_n(total['scanned'])} users")
    print(f"  written: {_n(total['written'])} users")
    print(f"  skipped: {_n(total['skipped'])}, failed: {_n(total['failed'])}")
    print(f"  retried: {_n(report.retried)} batch requests (throttling, partial batches)")
    print(
        f"  time:    {report.duration:.1f} s for this run "
        f"({report.items_per_second:,.0f} users a second)"
    )
    if backup is not None:
        print(f"  backup:  {_n(backup.written)} users in {backup.target}")
    # upgrade() makes one V2 user of each V1 user, so the tables must hold as many.
    if report.verification is not None:  # counted by the copy (verify=True)
        source_items = report.verification.source_items
        target_items = report.verification.target_items
    else:
        source_items = await db.scan(UserV1).count()
        target_items = await db.scan(UserV2).count()
    verdict = "one for each V1 user" if target_items == source_items else "a MISMATCH"
    print(
        f"  check:   {report.target} holds {_n(target_items)} users and {report.source} "
        f"{_n(source_items)}: {verdict}"
    )


async def migrate(args: argparse.Namespace, before: dict[str, Any]) -> int:
    """The whole run, from the saved state ``before`` (empty for a first run); returns the
    exit status."""
    path = Path(args.checkpoint)
    async with Session(table_prefix=os.environ.get("TABLE_PREFIX", "")) as db:
        if args.seed:
            await seed(db, args.seed)
        backup = None
        if not args.resume:
            try:
                backup = await take_backup(db, args)
            except MigrationError as exc:  # the backup is incomplete: nothing was migrated
                interrupted = exc.report.stopped == "cancelled"
                print(f"\n{'Interrupted' if interrupted else 'Failed'}: {exc}.")
                print("Run again with --overwrite-backup to take the backup again.")
                return 130 if interrupted else 1
            except ValidationError as exc:  # e.g. a non-empty backup table from a past run
                print(f"\nThe backup cannot be taken: {exc}")
                print("Pass --overwrite-backup to take it again over the old one.")
                return 2
        try:
            report = await copy(db, args, before.get("checkpoint"), before)
        except MigrationError as exc:
            save_checkpoint(path, exc.report, before)
            print(f"\nThe copy failed: {exc}")
            print(f"Fix the cause, then run again with --resume (checkpoint in {path}).")
            return 1
        if report.checkpoint is not None:
            save_checkpoint(path, report, before)
            written = before.get("written", 0) + report.written
            print(
                f"\nInterrupted: {_n(written)} users written so far. The checkpoint "
                f"is saved in {path}; run again with --resume to continue where this run "
                "stopped."
            )
            return 130
        forget_checkpoint(path)
        await report_done(db, report, backup, before)
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Migrate users from UserV1 to UserV2.")
    parser.add_argument("--seed", type=int, metavar="N", help="store N generated V1 users first")
    parser.add_argument("--segments", type=int, default=8, help="parallel scan segments")
    parser.add_argument("--concurrency", type=int, default=8, help="batch writes in flight")
    parser.add_argument(
        "--page-size", type=int, default=500, help="items per scan page (checkpoint steps)"
    )
    parser.add_argument(
        "--checkpoint",
        default="users_migration.checkpoint.json",
        help="where an interrupted run saves its checkpoint",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument(
        "--overwrite-backup", action="store_true", help="write over a non-empty backup table"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the migration as the command line asks; returns the exit status."""
    args = parse_args(argv)
    before = load_checkpoint(Path(args.checkpoint), args.resume)
    if before is None:
        return 2
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):  # a database just for this run
        if args.resume:
            print("--resume needs a database that outlives a run: set AWS_ENDPOINT_URL_DYNAMODB.")
            return 2
        if args.seed is None:
            args.seed = 2_000  # it starts empty: give the migration something to do
    with local_database():
        try:
            return asyncio.run(migrate(args, before))
        except KeyboardInterrupt:  # outside the copies, which stop cleanly on their own
            print(
                "\nInterrupted. Run again: with --resume if a checkpoint was saved, with "
                "--overwrite-backup if the backup was taken and the migration not started."
            )
            return 130


if __name__ == "__main__":
    sys.exit(main())
