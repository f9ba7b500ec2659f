"""`cellstream serve`, `cellstream run` (the embedded platform with a demo login) and `cellstream migrate`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

import typer

from cellstream.cli.common import DbOption, fail, settings_for
from cellstream.errors import CellstreamError, Conflict
from cellstream.services import Services
from cellstream.settings import Settings

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on")]
DEMO_ORG_ID = 1
DEMO_USER = "demo@cellstream.local"
DEMO_PASSWORD = "cellstream-demo"
DEMO_DEVICES = 50


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # uvloop is optional on platforms without it
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


async def _serve(services: Services, host: str, port: int) -> None:
    import uvicorn

    from cellstream.api.app import create_app
    from cellstream.runtime import background_work

    config = uvicorn.Config(create_app(services), host=host, port=port, log_level="warning",
                            access_log=False, lifespan="on", server_header=False)
    tasks = [asyncio.create_task(work) for work in background_work(services)]
    try:
        await uvicorn.Server(config).serve()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _serve_with(settings: Settings, host: str, port: int, before: str | None = None) -> None:
    from cellstream.runtime import open_services

    async def main() -> None:
        services = await open_services(settings)
        simulation: asyncio.Task[object] | None = None
        try:
            if before == "demo":
                await _seed_demo(services, host, port)
                simulation = asyncio.create_task(_demo_fleet(services))
            await _serve(services, host, port)
        finally:
            if simulation is not None:
                simulation.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await simulation  # it undoes its scenario's changes; the services must still be open
            await services.close()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin set-up lines say nothing to users
    try:
        with _runner() as runner:
            runner.run(main())
    except CellstreamError as exc:
        raise fail(exc.message) from None
    except KeyboardInterrupt:
        pass


def serve(db: DbOption = None, host: HostOption = "127.0.0.1", port: PortOption = 8080) -> None:
    """Serve the REST API (and later the portal) on HOST:PORT."""
    _serve_with(settings_for(db), host, port)


async def _seed_demo(services: Services, host: str, port: int) -> None:
    """A demo organisation, user and application token, created once and reused after."""
    auth = services.auth
    await auth.ensure_organisation(DEMO_ORG_ID, "Demo Organisation")
    with contextlib.suppress(Conflict):
        await auth.create_user(DEMO_ORG_ID, DEMO_USER, DEMO_PASSWORD, name="Demo User", roles=(1,))
    _, token = await auth.create_application_token(DEMO_ORG_ID, "make run demo token")
    base = f"http://{host}:{port}"
    typer.echo("\n".join([
        "",
        f"Cellstream is running at {base}  (API docs: {base}/docs)",
        f"  demo login:        {DEMO_USER} / {DEMO_PASSWORD}",
        f"  application token: {token}",
        f"  a simulated fleet of {DEMO_DEVICES} devices is live: {base}/api/v1/endpoint",
        f"  try: curl -s -X POST {base}/api/v1/authenticate -H 'Content-Type: application/json' \\",
        f"         -d '{{\"application_token\": \"{token}\"}}'",
        "Press Ctrl+C to stop.",
        "",
    ]))


async def _demo_fleet(services: Services) -> object:
    """The demo organisation's simulated fleet. Real time (speed 1): every device registers within its first
    minute, so events show up within seconds, and their timestamps are never in the future."""
    from cellstream.simulator import Simulation

    try:
        return await Simulation.in_process(services, org_id=DEMO_ORG_ID, devices=DEMO_DEVICES, speed=1.0,
                                           seed=0, scenario="normal-day", quiet=True).run()
    except CellstreamError as exc:
        logging.getLogger(__name__).error("the demo fleet stopped: %s", exc.message)
        return None


def run(host: HostOption = "127.0.0.1", port: PortOption = 8080) -> None:
    """Start the whole platform on the embedded default (SQLite under ./var/) with a demo login."""
    _serve_with(settings_for(None), host, port, before="demo")


def migrate(db: DbOption = None) -> None:
    """Bring the database schema up to date (serve does this on start too)."""
    from cellstream.store.sql.sqlite import migrate as migrate_sqlite

    url = settings_for(db).resolved_database_url()
    if not url.startswith("sqlite:"):
        raise fail(f"{url}: only SQLite databases have migrations so far")
    migrate_sqlite(url)
    typer.echo(f"{url}: schema up to date")
