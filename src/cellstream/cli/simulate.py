"""`cellstream simulate`: provision a fleet in an organisation and drive it through the network ingest
interface, in-process on a database (`--db`, default) or against a running server (`--target`)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Annotated

import typer

from cellstream.cli.common import DbOption, fail, run_with_services
from cellstream.errors import CellstreamError
from cellstream.services import Services
from cellstream.simulator import SCENARIOS, Counters, Simulation
from cellstream.simulator.progress import progress_for


@dataclass(frozen=True)
class Run:
    devices: int
    speed: float | None
    seed: int
    scenario: str
    duration_s: float | None
    batch_size: int
    quiet: bool


SPEED_HELP = "Simulated seconds per real second; 0 or 'max': as fast as the platform takes it"


def parse_speed(text: str) -> float | None:
    """None means as fast as possible."""
    if text.strip().lower() in ("max", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number or 'max'", param_hint="--speed") from None
    if not math.isfinite(value) or value < 0:
        raise typer.BadParameter("must be a positive number, 0 or 'max'", param_hint="--speed")
    return value or None


def simulate(
    org: Annotated[int, typer.Option("--org", help="Organisation the fleet belongs to (must exist)")],
    devices: Annotated[int, typer.Option("--devices", help="Number of devices (SIMs in endpoints)")],
    duration: Annotated[float | None, typer.Option(
        "--duration", help="Simulated seconds to run; default: until Ctrl+C")] = None,
    speed: Annotated[str, typer.Option("--speed", help=SPEED_HELP)] = "1",
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same fleet and same history")] = 0,
    scenario: Annotated[str, typer.Option(
        "--scenario", help="One of: " + ", ".join(SCENARIOS))] = "normal-day",
    db: DbOption = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="Base URL of a running Cellstream server (instead of --db)")] = None,
    service_token: Annotated[str | None, typer.Option(
        "--service-token", help="With --target: a service token (cellstream admin create-service-token)",
    )] = None,
    app_token: Annotated[str | None, typer.Option(
        "--app-token", help="With --target: an application token of the organisation")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Records per request at most")] = 500,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress display, only the summary")] = False,
) -> None:
    """Simulate a fleet of IoT devices: attach, move, roam, open data sessions, send SMS, fail to
    register — through the same signalling interface a mobile core uses."""
    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}",
                                 param_hint="--scenario")
    if devices < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--devices")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise typer.BadParameter("must be a positive number of seconds", param_hint="--duration")
    if not 1 <= batch_size <= 10_000:
        raise typer.BadParameter("must be from 1 to 10,000", param_hint="--batch-size")
    if db is not None and target is not None:
        raise typer.BadParameter("give either --db or --target, not both", param_hint="--db / --target")
    run = Run(devices, parse_speed(speed), seed, scenario, duration, batch_size, quiet)
    try:
        if target is None:
            if service_token is not None or app_token is not None:
                raise typer.BadParameter("--service-token and --app-token only go with --target",
                                         param_hint="--service-token / --app-token")

            async def in_process(services: Services) -> Counters:
                return await Simulation.in_process(
                    services, org_id=org, devices=run.devices, speed=run.speed, seed=run.seed,
                    scenario=run.scenario, duration_s=run.duration_s, quiet=run.quiet,
                    batch_size=run.batch_size).run()

            counters = run_with_services(db, in_process)
        else:
            if not service_token or not app_token:
                raise typer.BadParameter("--target needs --service-token (SIM batches) and --app-token "
                                         "(endpoints)", param_hint="--service-token / --app-token")
            counters = _over_http(target, org, service_token, app_token, run)
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    typer.echo(counters.summary())


def _over_http(target: str, org: int, service_token: str, app_token: str, run: Run) -> Counters:
    try:
        import aiohttp  # noqa: F401  the HTTP client of --target: fail before anything runs without it
    except ImportError as exc:
        raise fail(f"--target needs the aiohttp package ({exc})") from None
    from cellstream.simulator.provision_http import HttpPlatform
    from cellstream.simulator.sink import HttpSink

    simulation = Simulation(
        sink=HttpSink(target, service_token),
        platform=HttpPlatform(target, org, service_token=service_token, app_token=app_token),
        devices=run.devices, scenario=run.scenario, seed=run.seed, speed=run.speed,
        duration_s=run.duration_s, batch_size=run.batch_size, progress=progress_for(run.quiet))
    try:
        return asyncio.run(simulation.run())
    except CellstreamError as exc:
        raise fail(exc.message) from None
