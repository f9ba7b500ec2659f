"""The `cellstream ingest` and `admin` commands against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cellstream.cli import app
from cellstream.events.query import EventQuery
from cellstream.runtime import open_services
from cellstream.settings import Settings
from tests.conftest import need_fixtures

runner = CliRunner()


def event(event_id: int, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": event_id, "timestamp": "2026-01-02T03:04:05.000Z", "event_type": {"id": 1},
        "description": "New location received", "organisation": {"id": 5, "name": "Org"},
    }
    doc.update(changes)
    return doc


def stored_ids(db: str, org_id: int = 5) -> list[int]:
    async def read() -> list[int]:
        services = await open_services(Settings(database_url=db))
        try:
            page = await services.events.page(EventQuery(org_id=org_id), limit=10_000)
            return [json.loads(body)["id"] for body in page.bodies]
        finally:
            await services.close()

    return asyncio.run(read())


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CELLSTREAM_DATA_DIR", str(tmp_path / "var"))
    return f"sqlite:///{tmp_path / 'events.db'}"


def test_ingests_json_lines_array_and_single_object(tmp_path: Path, db: str) -> None:
    lines = tmp_path / "a.jsonl"
    lines.write_text(json.dumps(event(1)) + "\n\n" + json.dumps(event(2)) + "\n")
    array = tmp_path / "b.json"
    array.write_text(json.dumps([event(3), event(4)], indent=2))
    single = tmp_path / "c.json"
    single.write_text(json.dumps(event(5), indent=2))
    result = runner.invoke(app, ["ingest", "--db", db, str(lines), str(array), str(single)])
    assert result.exit_code == 0, result.output
    assert "stored 5 events" in result.output
    assert stored_ids(db) == [1, 2, 3, 4, 5]


def test_reingesting_the_same_events_is_idempotent(tmp_path: Path, db: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(event(1)) + "\n")
    assert runner.invoke(app, ["ingest", "--db", db, str(path)]).exit_code == 0
    result = runner.invoke(app, ["ingest", "--db", db, str(path)])
    assert result.exit_code == 0
    assert "stored 0 events (1 already stored, skipped)" in result.output
    assert stored_ids(db) == [1]


def test_one_invalid_record_stores_nothing_and_names_file_line_and_field(tmp_path: Path, db: str) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(event(1)) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(event(2)) + "\n" + json.dumps(event(3, event_type={"id": 66})) + "\n")
    result = runner.invoke(app, ["ingest", "--db", db, str(good), str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl:2: event_type.id" in result.output
    assert stored_ids(db) == []


def test_malformed_json_is_named(tmp_path: Path, db: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(event(1)) + "\n{not json\n")
    result = runner.invoke(app, ["ingest", "--db", db, str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl:2: json" in result.output


def test_conflicting_id_stores_nothing(tmp_path: Path, db: str) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps(event(1)) + "\n")
    assert runner.invoke(app, ["ingest", "--db", db, str(first)]).exit_code == 0
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps(event(2)) + "\n" + json.dumps(event(1, description="changed")) + "\n")
    result = runner.invoke(app, ["ingest", "--db", db, str(second)])
    assert result.exit_code == 1
    assert "id 1" in result.output
    assert stored_ids(db) == [1]


def test_missing_file_is_an_error(tmp_path: Path, db: str) -> None:
    result = runner.invoke(app, ["ingest", "--db", db, str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_stdin(db: str) -> None:
    result = runner.invoke(app, ["ingest", "--db", db, "-"], input=json.dumps(event(7)) + "\n")
    assert result.exit_code == 0, result.output
    assert stored_ids(db) == [7]


def test_documented_examples_ingest(tmp_path: Path, db: str) -> None:
    files = [str(p) for p in sorted(need_fixtures().glob("event-*.json"))]
    result = runner.invoke(app, ["ingest", "--db", db, *files])
    assert result.exit_code == 0, result.output
    assert f"stored {len(files)} events" in result.output


def test_admin_commands_print_ids_and_tokens_last(db: str) -> None:
    result = runner.invoke(app, ["admin", "create-org", "--db", db, "--name", "Acme", "--id", "40"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "40"
    again = runner.invoke(app, ["admin", "create-org", "--db", db, "--name", "Acme", "--id", "40"])
    assert again.exit_code == 1
    user = runner.invoke(app, ["admin", "create-user", "--db", db, "--org", "40", "--username", "a@b.c",
                               "--password", "secret"])
    assert user.exit_code == 0, user.output
    token = runner.invoke(app, ["admin", "create-app-token", "--db", db, "--org", "41"])
    assert token.exit_code == 0, token.output
    assert len(token.output.strip().splitlines()[-1]) > 20
    service = runner.invoke(app, ["admin", "create-service-token", "--db", db])
    assert service.exit_code == 0, service.output
    bad_role = runner.invoke(app, ["admin", "create-user", "--db", db, "--org", "40", "--username", "x@b.c",
                                   "--password", "p", "--role", "9"])
    assert bad_role.exit_code != 0
