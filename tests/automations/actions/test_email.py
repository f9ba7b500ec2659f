"""The e-mail action against a real SMTP server: aiosmtpd on 127.0.0.1, on a free port per test, with
handlers that record what arrives or answer with the refusals whose meaning the action must get right.
TLS is tested with a private CA made here and trusted through SSL_CERT_FILE, which is how the standard
library's default context (the one aiosmtplib verifies with) finds extra trust anchors."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from cellstream.automations.actions.base import ActionContext, ActionFailed
from cellstream.automations.actions.email import MAX_RECIPIENTS, EmailAction
from cellstream.domain.principal import Principal
from cellstream.errors import Unprocessable
from cellstream.events.codec import encode_event, to_wire
from cellstream.events.model import Event
from cellstream.settings import Settings
from tests.certificates import make_certificates
from tests.contracts.factory import event
from tests.e2e.conftest import free_port

# aiosmtpd warns when a server takes passwords without TLS, which is what the AUTH tests set up on purpose.
plain_auth = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning:aiosmtpd")

HOST = "127.0.0.1"
UUID = "0e7b8c2a-51c4-4d55-9a53-7cf1f4f0a9de"
NAME = "Notify ops"
RECIPIENTS = ["ops@example.com", "oncall@example.org", "Boss+alerts@Example.NET"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    """Records every message; answers `rcpt` (per address, or "*" for all) and `data` replies when set."""

    rcpt: dict[str, str] = field(default_factory=dict)
    data: str | None = None
    mail: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.rcpt.get(address, self.rcpt.get("*"))
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data:
            return self.data
        assert isinstance(envelope.content, bytes)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued as 4711"


class Server(Controller):
    """A Controller whose connections a test can wait out before stopping it: `idle` is set while none
    is open. The set changes only in the server's thread."""

    def __init__(self, handler: Handler, **options: Any) -> None:
        super().__init__(handler, hostname=HOST, port=free_port(), **options)
        self.tls = "tls_context" in options or "ssl_context" in options
        self.open_connections: set[SMTP] = set()
        self.idle = threading.Event()
        self.idle.set()

    def factory(self) -> SMTP:
        return Tracked(self, self.handler, **self.SMTP_kwargs)


class Tracked(SMTP):
    """aiosmtpd's session, counting itself among its server's open connections."""

    def __init__(self, server: Server, handler: Any, **options: Any) -> None:
        super().__init__(handler, **options)
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Made twice with STARTTLS (again for the TLS transport), lost once: a set, not a count.
        self._server.open_connections.add(self)
        self._server.idle.clear()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._server.open_connections.discard(self)
        if not self._server.open_connections:
            self._server.idle.set()


StartServer = Callable[..., tuple[Handler, int]]


@pytest.fixture
async def smtp_server() -> AsyncIterator[StartServer]:
    """start(handler=None, **aiosmtpd options) -> (handler, port): a server for this test only.

    Stopping waits, with the test's loop running, for the connections to end: Controller.stop() ends the
    server's loop at once, and a TLS connection closes in steps on both sides (close_notify each way). Cut
    short, either side keeps a transport that is never finalised, a ResourceWarning that fails whichever
    later test the garbage collector happens to run in."""
    started: list[Server] = []

    def start(handler: Handler | None = None, **options: Any) -> tuple[Handler, int]:
        handler = handler or Handler()
        server = Server(handler, **options)
        server.start()
        started.append(server)
        return handler, server.port

    yield start
    for server in started:
        await asyncio.to_thread(server.idle.wait, 10)
    if any(server.tls for server in started):
        await asyncio.sleep(0.1)  # the client's side of a TLS close ends just after the server's
    for server in started:
        server.stop()


def settings(port: int, **changes: Any) -> Settings:
    values: dict[str, Any] = {"smtp_host": HOST, "smtp_port": port, "smtp_tls": "none", "smtp_timeout_s": 5.0}
    return Settings(**(values | changes))


def fired(ev: Event | None = None, *, recipients: list[str] | None = None,
          properties: Mapping[str, list[str]] | None = None, number: int = 7) -> ActionContext:
    ev = ev or event(id=42, type=11, ts=3_723_456, description="Endpoint blocked: data limit reached",
                     endpoint={"id": 5, "name": "tracker-5", "ip_address": "10.0.0.5"},
                     sim={"id": 9, "iccid": "8988303000000000009"}, imsi="295050900000001")
    return ActionContext(Principal.of_automation(ev.org_id, UUID, NAME), UUID, NAME, number, ev,
                         encode_event(ev), properties or {},
                         list(RECIPIENTS) if recipients is None else recipients)


async def failure(action: EmailAction, context: ActionContext) -> ActionFailed:
    with pytest.raises(ActionFailed) as caught:
        await action.run(context)
    return caught.value


# --- the message --------------------------------------------------------------------------------------------


async def test_one_message_goes_to_every_recipient(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    result = await EmailAction(settings(port)).run(fired())
    assert len(handler.received) == 1
    assert handler.received[0].rcpt_tos == RECIPIENTS
    assert handler.received[0].mail_from == "cellstream@localhost"
    assert result.startswith(f"sent to 3 recipients via {HOST}:{port}")
    assert "queued as 4711" in result


async def test_a_recipient_listed_twice_gets_one_copy(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    await EmailAction(settings(port)).run(fired(recipients=["ops@example.com", "OPS@example.com"]))
    assert handler.received[0].rcpt_tos == ["ops@example.com"]


async def test_headers(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    await EmailAction(settings(port, smtp_from="Cellstream <alerts@cellstream.example>")).run(fired())
    message = handler.received[0].message()
    assert handler.received[0].mail_from == "alerts@cellstream.example"
    assert message["From"] == "Cellstream <alerts@cellstream.example>"
    assert [a.strip() for a in str(message["To"]).split(",")] == RECIPIENTS
    assert message["Subject"] == "[Cellstream] Notify ops: Endpoint blocked"
    assert parsedate_to_datetime(str(message["Date"])).tzinfo is not None
    assert str(message["Message-ID"]).startswith(f"<automation-{UUID}.7.")
    assert str(message["Message-ID"]).endswith("@cellstream.example>")
    assert message["X-Cellstream-Automation"] == UUID
    assert message["Auto-Submitted"] == "auto-generated"


async def test_the_message_id_is_the_same_for_a_retry_and_differs_between_executions_and_actions(
        smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    action = EmailAction(settings(port))
    for context in (fired(), fired(), fired(number=8), fired(recipients=["other@example.com"]),
                    fired(properties={"subject": ["Another action"]})):
        await action.run(context)
    ids = [str(r.message()["Message-ID"]) for r in handler.received]
    assert ids[0] == ids[1]
    assert len(set(ids)) == 4


async def test_a_configured_subject_replaces_the_default(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    await EmailAction(settings(port)).run(fired(properties={"subject": ["Tracker blocked – look now"]}))
    assert handler.received[0].message()["Subject"] == "Tracker blocked – look now"


async def test_a_line_break_in_the_automation_name_does_not_break_the_subject(
        smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    context = fired()
    context = ActionContext(context.principal, UUID, "Two\nlines", 1, context.event, context.event_body, {},
                            ["ops@example.com"])
    await EmailAction(settings(port)).run(context)
    assert handler.received[0].message()["Subject"] == "[Cellstream] Two lines: Endpoint blocked"


async def test_the_text_tells_the_event(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    await EmailAction(settings(port)).run(fired())
    body = handler.received[0].message().get_body(("plain",))
    assert body is not None
    text = body.get_content()
    for fact in ("2026-01-01T01:02:03.456Z", "Endpoint blocked (11)", "Warn", "Policy Control",
                 "Endpoint blocked: data limit reached", "Acme (id 1)", "tracker-5, 10.0.0.5 (id 5)",
                 "8988303000000000009 (id 9)", "295050900000001", NAME, UUID, "event-42.json"):
        assert fact in text
    assert "Execution:    7" in text
    assert "User:" not in text


async def test_the_text_leaves_out_what_the_event_lacks(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    await EmailAction(settings(port)).run(fired(event(id=43, type=6, description="bad password",
                                                      user={"id": 3, "name": "Ann", "username": "ann@x.io"})))
    body = handler.received[0].message().get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "User:         Ann, ann@x.io (id 3)" in text
    for absent in ("Endpoint:", "SIM:", "IMSI:"):
        assert absent not in text
    assert handler.received[0].message()["Subject"] == "[Cellstream] Notify ops: User authentication failed"


async def test_the_event_json_is_attached(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    context = fired()
    await EmailAction(settings(port)).run(context)
    attachments = list(handler.received[0].message().iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_filename() == "event-42.json"
    assert attachments[0].get_content_type() == "application/json"
    content = attachments[0].get_content()
    assert content == context.event_body
    assert msgspec.json.decode(content) == to_wire(context.event)


# --- outcomes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("handler", "permanent", "says"), [
    (Handler(rcpt={"*": "550 5.1.1 no such user"}), True, "refused every recipient"),
    (Handler(rcpt={"*": "451 4.7.1 greylisted, try later"}), False, "refused every recipient"),
    (Handler(data="554 5.7.1 spam"), True, "refused the message: 554"),
    (Handler(data="451 4.3.0 out of disk"), False, "refused the message: 451"),
    (Handler(mail="553 5.7.1 sender not allowed"), True, "CELLSTREAM_SMTP_FROM"),
    (Handler(mail="421 4.3.2 shutting down"), False, "421"),
], ids=["rcpt-550", "rcpt-451", "data-554", "data-451", "mail-553", "mail-421"])
async def test_replies_decide_whether_to_retry(smtp_server: StartServer, handler: Handler, permanent: bool,
                                               says: str) -> None:
    _, port = smtp_server(handler)
    failed = await failure(EmailAction(settings(port)), fired())
    assert failed.permanent is permanent
    assert says in failed.message
    assert handler.received == []


async def test_a_partly_refused_message_names_the_refused_and_fails_for_good(
        smtp_server: StartServer) -> None:
    handler, port = smtp_server(Handler(rcpt={"oncall@example.org": "550 5.1.1 no such user"}))
    failed = await failure(EmailAction(settings(port)), fired())
    assert failed.permanent
    assert "oncall@example.org: 550" in failed.message
    assert "2 of 3" in failed.message
    assert handler.received[0].rcpt_tos == ["ops@example.com", "Boss+alerts@Example.NET"]


async def test_a_partly_deferred_message_is_retried(smtp_server: StartServer) -> None:
    _, port = smtp_server(Handler(rcpt={"oncall@example.org": "450 4.2.0 mailbox busy"}))
    failed = await failure(EmailAction(settings(port)), fired())
    assert not failed.permanent
    assert "oncall@example.org: 450" in failed.message


async def test_nothing_listening_is_retried() -> None:
    failed = await failure(EmailAction(settings(free_port())), fired())
    assert not failed.permanent
    assert "could not talk to" in failed.message


async def test_a_silent_server_times_out_and_is_retried() -> None:
    # A socket that listens but never accepts: the kernel completes the handshake, no greeting ever comes.
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen()
        failed = await failure(EmailAction(settings(silent.getsockname()[1], smtp_timeout_s=0.2)), fired())
    assert not failed.permanent
    assert "did not answer within 0.2 s" in failed.message


async def test_unconfigured_fails_for_good() -> None:
    failed = await failure(EmailAction(Settings(smtp_host="")), fired())
    assert failed.permanent
    assert failed.message == "e-mail is not configured (CELLSTREAM_SMTP_HOST)"


async def test_bad_recipients_that_slipped_past_check_fail_for_good(smtp_server: StartServer) -> None:
    handler, port = smtp_server()
    context = fired(recipients=["ops@example.com", "not an address"])
    failed = await failure(EmailAction(settings(port)), context)
    assert failed.permanent
    assert "recipients.email.1" in failed.message
    assert handler.received == []


async def test_starttls_required_but_not_offered_fails_for_good(smtp_server: StartServer) -> None:
    _, port = smtp_server()
    failed = await failure(EmailAction(settings(port, smtp_tls="starttls")), fired())
    assert failed.permanent
    assert "STARTTLS" in failed.message


# --- TLS and AUTH -------------------------------------------------------------------------------------------


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """The private CA's PEM file, and a server context holding a certificate it signed for localhost."""
    ca_pem, cert_file, key_file = make_certificates(tmp_path)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca_pem)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    return ca_file, server_context


async def test_starttls_with_a_trusted_certificate_delivers(
        smtp_server: StartServer, certificates: tuple[Path, ssl.SSLContext],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ca_file, server_context = certificates
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    handler, port = smtp_server(tls_context=server_context, require_starttls=True)
    await EmailAction(settings(port, smtp_host="localhost", smtp_tls="starttls")).run(fired())
    assert len(handler.received) == 1


async def test_an_untrusted_certificate_fails_for_good(
        smtp_server: StartServer, certificates: tuple[Path, ssl.SSLContext]) -> None:
    _, server_context = certificates
    handler, port = smtp_server(tls_context=server_context, require_starttls=True)
    failed = await failure(EmailAction(settings(port, smtp_host="localhost", smtp_tls="starttls")), fired())
    assert failed.permanent
    assert "certificate" in failed.message
    assert handler.received == []


async def test_implicit_tls_delivers(smtp_server: StartServer, certificates: tuple[Path, ssl.SSLContext],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ca_file, server_context = certificates
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    handler, port = smtp_server(ssl_context=server_context)
    await EmailAction(settings(port, smtp_host="localhost", smtp_tls="tls")).run(fired())
    assert len(handler.received) == 1


def _alice(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alice", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def auth_server(smtp_server: StartServer) -> tuple[Handler, int]:
    return smtp_server(authenticator=_alice, auth_required=True, auth_require_tls=False)


@plain_auth
async def test_the_right_login_delivers(auth_server: tuple[Handler, int]) -> None:
    handler, port = auth_server
    await EmailAction(settings(port, smtp_username="alice", smtp_password="s3cret")).run(fired())
    assert len(handler.received) == 1


@plain_auth
async def test_a_wrong_login_fails_for_good(auth_server: tuple[Handler, int]) -> None:
    handler, port = auth_server
    failed = await failure(EmailAction(settings(port, smtp_username="alice", smtp_password="nope")), fired())
    assert failed.permanent
    assert "refused the login" in failed.message
    assert "535" in failed.message
    assert handler.received == []


@plain_auth
async def test_no_login_where_one_is_required_fails_for_good(auth_server: tuple[Handler, int]) -> None:
    _, port = auth_server
    failed = await failure(EmailAction(settings(port)), fired())
    assert failed.permanent
    assert "530" in failed.message


async def test_a_login_the_server_does_not_offer_fails_for_good(smtp_server: StartServer) -> None:
    _, port = smtp_server()
    action = EmailAction(settings(port, smtp_username="alice", smtp_password="s3cret"))
    failed = await failure(action, fired())
    assert failed.permanent
    assert "AUTH" in failed.message


# --- check --------------------------------------------------------------------------------------------------


def fields(properties: Mapping[str, list[str]], recipients: list[str]) -> list[str]:
    with pytest.raises(Unprocessable) as caught:
        EmailAction(Settings()).check(properties, recipients)
    return [p.field for p in caught.value.problems]


def test_check_accepts_a_plausible_configuration() -> None:
    EmailAction(Settings()).check({"subject": ["Heads up"]}, RECIPIENTS)
    EmailAction(Settings()).check({}, ["a.b-c_d+e@sub.example-domain.com", "root@localhost"])


def test_check_wants_a_recipient() -> None:
    assert fields({}, []) == ["recipients.email"]


def test_check_limits_the_recipients() -> None:
    assert fields({}, [f"r{n}@example.com" for n in range(MAX_RECIPIENTS + 1)]) == ["recipients.email"]


@pytest.mark.parametrize("address", ["not an address", "@example.com", "ops@", "ops@@example.com",
                                     "Ops <ops@example.com>", "ops@example.com\r\nBcc: x@y.z",
                                     "öps@example.com", "ops@-example.com", "ops@exa mple.com",
                                     "o" * 65 + "@example.com", "ops@" + "a." * 130 + "com"])
def test_check_names_each_implausible_address(address: str) -> None:
    assert fields({}, ["ok@example.com", address]) == ["recipients.email.1"]


def test_check_reports_every_problem() -> None:
    assert fields({"subject": ["x" * 201]}, ["bad", "ok@example.com", "worse@"]) == [
        "recipients.email.0", "recipients.email.2", "subject"]


@pytest.mark.parametrize("subject", [["x" * 201], ["two\nlines"], ["one", "two"]])
def test_check_names_a_bad_subject(subject: list[str]) -> None:
    assert fields({"subject": subject}, ["ok@example.com"]) == ["subject"]


def test_a_subject_of_200_characters_is_fine() -> None:
    EmailAction(Settings()).check({"subject": ["x" * 200]}, ["ok@example.com"])


def test_the_description_is_fixed() -> None:
    action = EmailAction(Settings())
    assert (action.id, action.type, action.name, action.configuration_properties) == (
        "5b0f6f3e-8f0c-4a43-9d9e-2a7c31e4c0a1", "EMAIL", "Send an e-mail", ("subject",))
