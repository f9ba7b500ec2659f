"""What every command shares: settings with an optional --db override, and one way to fail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from cellstream.errors import CellstreamError, InvalidInput
from cellstream.services import Services
from cellstream.settings import Settings

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (sqlite:///path.db); default: CELLSTREAM_DATABASE_URL or "
                              "SQLite under ./var/"),
]


def settings_for(db: str | None) -> Settings:
    return Settings().with_database(db)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def run_with_services(db: str | None, action: Callable[[Services], Awaitable[T]]) -> T:
    """Open the platform's services, run `action`, close them; Cellstream errors become exit 1."""
    from cellstream.runtime import open_services

    async def main() -> T:
        services = await open_services(settings_for(db))
        try:
            return await action(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except InvalidInput as exc:
        raise fail("invalid input:\n  " + "\n  ".join(str(p) for p in exc.problems)) from None
    except CellstreamError as exc:
        raise fail(exc.message) from None
