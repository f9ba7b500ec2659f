"""`cellstream admin`: organisations, users and tokens from the command line."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cellstream.cli.common import DbOption, run_with_services
from cellstream.domain.sims import ACTIVATED, FACTORY_TEST, ISSUED
from cellstream.services import Services

app = typer.Typer(help="Create organisations, users, application and service tokens.", no_args_is_help=True)


@app.command("create-org")
def create_org(
    name: Annotated[str, typer.Option("--name", help="Organisation name")],
    org_id: Annotated[int | None, typer.Option("--id", help="Organisation id (default: next free)")] = None,
    db: DbOption = None,
) -> None:
    """Create an organisation and print its id."""
    async def action(services: Services) -> None:
        org = await services.auth.create_organisation(name, org_id)
        typer.echo(f"organisation {org.id} {org.name!r} created")
        typer.echo(str(org.id))

    run_with_services(db, action)


@app.command("create-user")
def create_user(
    org: Annotated[int, typer.Option("--org", help="Organisation id")],
    username: Annotated[str, typer.Option("--username", help="Login, usually an e-mail address")],
    password: Annotated[str, typer.Option("--password", help="Plain password")],
    name: Annotated[str, typer.Option("--name", help="Display name")] = "",
    role: Annotated[int, typer.Option("--role", help="1 Administrator, 2 User, 3 Observer")] = 1,
    db: DbOption = None,
) -> None:
    """Create a user in an existing organisation and print its id."""
    if role not in (1, 2, 3):
        raise typer.BadParameter("must be 1 (Administrator), 2 (User) or 3 (Observer)",
                                 param_hint="--role")

    async def action(services: Services) -> None:
        user = await services.auth.create_user(org, username, password, name=name or username, roles=(role,))
        typer.echo(f"user {user.id} {user.username!r} created in organisation {org}")
        typer.echo(str(user.id))

    run_with_services(db, action)


@app.command("create-app-token")
def create_app_token(
    org: Annotated[int, typer.Option("--org", help="Organisation id (created if missing)")],
    description: Annotated[str, typer.Option("--description")] = "Created with the cellstream CLI",
    db: DbOption = None,
) -> None:
    """Create an application token; the token is the last line printed (shown only once)."""
    async def action(services: Services) -> None:
        await services.auth.ensure_organisation(org)
        token, secret = await services.auth.create_application_token(org, description)
        typer.echo(f"application token {token.id} created for organisation {org}; it is shown only once:")
        typer.echo(secret)

    run_with_services(db, action)


@app.command("create-service-token")
def create_service_token(
    description: Annotated[str, typer.Option("--description")] = "trusted producer",
    db: DbOption = None,
) -> None:
    """Create a token for trusted producers (POST /internal/v1/events); printed last, shown only once."""
    async def action(services: Services) -> None:
        token, secret = await services.auth.create_service_token(description)
        typer.echo(f"service token {token.id} created; it is shown only once:")
        typer.echo(secret)

    run_with_services(db, action)


class SimStatusChoice(StrEnum):
    ACTIVATED = "activated"
    FACTORY_TEST = "factory-test"
    ISSUED = "issued"


SIM_STATUSES = {SimStatusChoice.ACTIVATED: ACTIVATED, SimStatusChoice.FACTORY_TEST: FACTORY_TEST,
                SimStatusChoice.ISSUED: ISSUED}


@app.command("provision-sims")
def provision_sims(
    count: Annotated[int, typer.Option("--count", help="How many SIMs the batch holds (1-10,000)")],
    bic: Annotated[str, typer.Option("--bic", help="Batch identification code, 8-32 letters A-Z and digits")],
    org: Annotated[int | None, typer.Option(
        "--org", help="Register the batch to this organisation at once (else its owner registers it with "
                      "the BIC)")] = None,
    status: Annotated[SimStatusChoice, typer.Option(
        "--status", help="With --org: register Activated or in Factory Test (event 48), or assign them "
                         "Issued for the organisation to activate (no event)")] = SimStatusChoice.ACTIVATED,
    db: DbOption = None,
) -> None:
    """Create Issued SIMs (ICCID, IMSI, MSISDN) under a batch code, as a SIM delivery arrives."""
    async def action(services: Services) -> None:
        made = await services.connectivity.provision_sims(count=count, bic=bic.upper(), org_id=org,
                                                          status_id=SIM_STATUSES[status])
        where = ("held until registered" if org is None else f"assigned to organisation {org}, Issued"
                 if status == SimStatusChoice.ISSUED else f"registered to organisation {org}, {status.value}")
        typer.echo(f"{len(made)} SIMs provisioned under BIC {bic.upper()}, {where}: ICCIDs {made[0].iccid} "
                   f"to {made[-1].iccid}")

    run_with_services(db, action)
