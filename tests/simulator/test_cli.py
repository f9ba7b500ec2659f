"""`cellstream simulate` on the command line: bad input fails clearly, a run on a SQLite file works."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cellstream.cli.simulate import simulate
from cellstream.events.query import EventQuery
from cellstream.runtime import open_services
from cellstream.settings import Settings

runner = CliRunner()
app = typer.Typer()
app.command()(simulate)  # registered on its own here; `cellstream simulate` in the real CLI


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELLSTREAM_DATA_DIR", str(tmp_path / "var"))


@pytest.mark.parametrize(("args", "complaint"), [
    (["--scenario", "rush-hour"], "unknown scenario 'rush-hour'"),
    (["--devices", "0"], "must be at least 1"),
    (["--db", "sqlite:///x.db", "--target", "http://localhost:8080"], "either --db or --target"),
    (["--target", "http://localhost:8080"], "--target needs --service-token"),
    (["--service-token", "t"], "only go with --target"),
    (["--speed", "fast"], "'fast' is not a number"),
    (["--speed", "-2"], "must be a positive number"),
    (["--duration", "0"], "positive number of seconds"),
])
def test_bad_input_is_refused(args: list[str], complaint: str) -> None:
    base = ["--org", "1", "--devices", "3"]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert complaint in " ".join(result.output.replace("│", " ").split())  # rich boxes wrap the text


def test_an_unknown_organisation_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--org", "31", "--devices", "2", "--duration", "5", "--speed", "max",
                                 "--db", f"sqlite:///{tmp_path / 'sim.db'}"])
    assert result.exit_code == 1
    assert "organisation 31 not found" in result.output


def test_a_run_on_a_sqlite_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sim.db'}"

    async def create_org() -> None:
        services = await open_services(Settings(database_url=db, data_dir=tmp_path / "var"))
        try:
            await services.auth.ensure_organisation(31, "CLI Org")
        finally:
            await services.close()

    async def count() -> int:
        services = await open_services(Settings(database_url=db, data_dir=tmp_path / "var"))
        try:
            return await services.events.count(EventQuery(31))
        finally:
            await services.close()

    asyncio.run(create_org())
    result = runner.invoke(app, ["--org", "31", "--devices", "5", "--duration", "120", "--speed", "max",
                                 "--seed", "9", "--scenario", "outage-reattach", "--db", db])
    assert result.exit_code == 0, result.output
    assert "records" in result.output
    assert "by kind:" in result.output
    assert asyncio.run(count()) > 20
