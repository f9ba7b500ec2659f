"""One `Settings` object, read from the environment (prefix CELLSTREAM_) once and passed down.
Nothing else in Cellstream reads os.environ."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CELLSTREAM_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="where the embedded database and generated keys live")
    database_url: str = Field("", description="sqlite:///path or postgresql://…; default: SQLite in data_dir")
    jwt_secret: str = Field("", description="HS256 signing key; generated into data_dir when empty")
    auth_token_minutes: int = Field(240, ge=1, description="lifetime of an auth_token (documented: 240)")
    refresh_token_days: int = Field(30, ge=1)
    lockout_failures: int = Field(3, ge=1, description="consecutive failed logins that lock a user")
    lockout_minutes: int = Field(5, ge=1)
    event_retention_days: int = Field(30, ge=1, description="events older than this are removed")
    retention_interval_s: int = Field(3600, ge=1)
    events_max_per_page: int = Field(1000, ge=1)
    ingest_max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    sqlite_cache_mb: int = Field(256, ge=1)
    # Finished event-list pages kept for repeated requests (exact: a page is served again only while its
    # filter's count is unchanged in the same snapshot). 0 turns it off.
    sqlite_page_cache_mb: int = Field(16, ge=0)
    rate_limits: Literal["on", "off"] = "on"
    # Data Streamer
    allow_private_destinations: bool = Field(
        False, description="let data streams deliver to loopback and private addresses (tests, make run)")
    stream_retention_days: int = Field(7, ge=1, description="a stream's backlog older than this is dropped")
    stream_failure_budget_s: int = Field(
        300, ge=1, description="how long a stream may keep failing before its status becomes Error")
    stream_probe_interval_s: int = Field(60, ge=1, description="how often an Error stream tries again")
    stream_backoff_max_s: float = Field(30.0, gt=0, description="the longest wait between retries")
    aws_endpoint_url: str = Field("", description="S3, Kinesis and STS endpoint (e.g. a local moto server)")
    datadog_url: str = Field("", description="replaces https://http-intake.logs.<site> (tests)")
    keenio_url: str = Field("", description="replaces https://api.keen.io (tests)")
    # Automations: the e-mail action
    smtp_host: str = Field("", description="the SMTP server e-mail actions send through; empty: no e-mail")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str = Field("", description="SMTP AUTH user; empty: send without logging in")
    smtp_password: str = Field("")
    smtp_from: str = Field("cellstream@localhost", description="the From of every e-mail (and its envelope)")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls: upgrade and require it; tls: TLS from the start (port 465)")
    smtp_timeout_s: float = Field(10.0, gt=0, description="the longest wait for the SMTP server at any step")
    # Automations
    automation_max_runs_per_endpoint_per_hour: int = Field(
        60, ge=1, description="rate guard: an automation runs at most this often an hour for one device")

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cellstream.db'}"

    def with_database(self, url: str | None) -> Settings:
        return self if not url else self.model_copy(update={"database_url": url})
