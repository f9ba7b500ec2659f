"""`cellstream ingest`: validate files of events and store them all, or nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cellstream.cli.common import DbOption, fail, run_with_services
from cellstream.events.model import Event
from cellstream.ingest.reader import read_documents
from cellstream.ingest.service import decode_all
from cellstream.services import Services

PROGRESS_FROM_BYTES = 5_000_000


def _read(path: str) -> tuple[str, bytes]:
    if path == "-":
        return "<stdin>", sys.stdin.buffer.read()
    file = Path(path)
    if not file.is_file():
        raise fail(f"{path}: no such file")
    return file.name, file.read_bytes()


def _validate(sources: list[tuple[str, bytes]], now_ms: int) -> list[Event]:
    documents: list[tuple[str, Any]] = []
    for name, data in sources:
        documents.extend(read_documents(data, name))
    if sum(len(d) for _, d in sources) < PROGRESS_FROM_BYTES:
        return decode_all(documents, now_ms=now_ms)
    events: list[Event] = []
    columns = (TextColumn("validating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("validate", total=len(documents))
        step = 10_000
        for start in range(0, len(documents), step):
            events.extend(decode_all(documents[start:start + step], now_ms=now_ms))
            progress.advance(task, min(step, len(documents) - start))
    return events


def ingest(
    files: Annotated[list[str], typer.Argument(help="JSON (object or array) or JSON Lines files; - = stdin")],
    db: DbOption = None,
) -> None:
    """Validate every event in FILES, then store them in one transaction.

    Any invalid record stops the whole invocation before anything is stored, with a message naming the
    file, the line (or array index) and the field. Re-ingesting an identical event is skipped.
    """
    sources = [_read(path) for path in files]

    async def action(services: Services) -> None:
        events = _validate(sources, services.clock.now_ms())
        result = await services.ingestor.ingest(events)
        skipped = f" ({result.duplicates} already stored, skipped)" if result.duplicates else ""
        typer.echo(f"stored {len(result.stored)} events{skipped}")

    run_with_services(db, action)
