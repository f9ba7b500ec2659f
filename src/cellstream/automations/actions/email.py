"""`EMAIL`: tell people about an event. One message goes to all of the automation's recipients (facts
§G.1: `recipients {email: [..]}`), with the facts a person needs in the text and the event's canonical
JSON attached, so a reader can act on it and a program can parse it.

Retries: the engine runs the action again after a retryable failure, so the same message may be sent
more than once. Its Message-ID is derived from the execution (automation uuid, execution number and the
action's recipients and subject, since one automation may hold several e-mail actions), never random, so
mail systems and readers can recognise a repeat.

Outcomes: a 4xx reply, a timeout or an unreachable server is worth another try; a 5xx reply (a refused
sender, recipient, login or message), a server that lacks what the settings require (STARTTLS, AUTH) and a
certificate that does not verify are not, as only a change of configuration mends them. A reply that is
not SMTP at all (a wrong port) is treated as a configuration error too.

Recipient addresses follow the WHATWG "valid e-mail address" rule (what browsers' e-mail inputs accept):
an unquoted ASCII local part and a domain of letters, digits and hyphens. Quoted local parts, display
names and internationalised addresses are refused: they are rare for alert mailboxes, and the last need
SMTPUTF8, which not every relay offers.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib

from cellstream.automations.actions.base import ActionContext, ActionFailed
from cellstream.errors import FieldProblem, Unprocessable
from cellstream.events import catalog
from cellstream.events.model import Event
from cellstream.events.timefmt import format_timestamp
from cellstream.settings import Settings

ACTION_ID = "5b0f6f3e-8f0c-4a43-9d9e-2a7c31e4c0a1"
MAX_RECIPIENTS = 20
MAX_SUBJECT_CHARS = 200
# RFC 5321 §4.5.3.1: 64 octets of local part; 254 is the longest address that fits a forward path.
MAX_LOCAL_PART, MAX_ADDRESS = 64, 254
REPLY_SNIPPET_CHARS = 200

_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
                      r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def address_problem(address: str) -> str | None:
    """Why `address` is not a plausible recipient, or None when it is."""
    if not _ADDRESS.fullmatch(address):
        return f"{address!r} is not an e-mail address like name@example.com"
    # The rule's own check, by the standard library's parser: what it reads must be the whole text.
    if parseaddr(address)[1] != address:
        return f"{address!r} is not an e-mail address like name@example.com"
    if len(address) > MAX_ADDRESS or len(address.partition("@")[0]) > MAX_LOCAL_PART:
        return f"{address!r} is too long for an e-mail address"
    return None


def configuration_problems(properties: Mapping[str, list[str]], recipients: list[str]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if not recipients:
        problems.append(FieldProblem("recipients.email", "at least one recipient is required"))
    elif len(recipients) > MAX_RECIPIENTS:
        problems.append(FieldProblem("recipients.email",
                                     f"at most {MAX_RECIPIENTS} recipients, not {len(recipients)}"))
    for index, address in enumerate(recipients):
        problem = address_problem(address)
        if problem:
            problems.append(FieldProblem(f"recipients.email.{index}", problem))
    subjects = properties.get("subject") or []
    if len(subjects) > 1:
        problems.append(FieldProblem("subject", "takes one value"))
    elif subjects:
        if len(subjects[0]) > MAX_SUBJECT_CHARS:
            problems.append(FieldProblem("subject", f"at most {MAX_SUBJECT_CHARS} characters, "
                                                    f"not {len(subjects[0])}"))
        if _CONTROL.search(subjects[0]):
            problems.append(FieldProblem("subject", "must be one line without control characters"))
    return problems


class EmailAction:
    id = ACTION_ID
    name = "Send an e-mail"
    type = "EMAIL"
    description = ("Sends one e-mail about the event to the configured recipients, with the event's JSON "
                   "attached")
    configuration_properties: tuple[str, ...] = ("subject",)
    required_event_output_parameters: tuple[str, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def check(self, properties: Mapping[str, list[str]], recipients: list[str]) -> None:
        problems = configuration_problems(properties, recipients)
        if problems:
            raise Unprocessable(problems)

    async def run(self, context: ActionContext) -> str:
        settings = self._settings
        if not settings.smtp_host:
            raise ActionFailed("e-mail is not configured (CELLSTREAM_SMTP_HOST)", permanent=True)
        # Checked again: the configuration was checked when stored, but a retry must not be what finds out.
        problems = configuration_problems(context.properties, context.recipients)
        if problems:
            raise ActionFailed("; ".join(str(p) for p in problems), permanent=True)
        sender = parseaddr(settings.smtp_from)[1]
        if not sender:
            raise ActionFailed(f"CELLSTREAM_SMTP_FROM {settings.smtp_from!r} holds no e-mail address",
                               permanent=True)
        recipients = _unique(context.recipients)
        message = compose(context, recipients, settings.smtp_from, datetime.now(UTC))
        server = f"{settings.smtp_host}:{settings.smtp_port}"
        try:
            refused, reply = await aiosmtplib.send(
                message, sender=sender, recipients=recipients, hostname=settings.smtp_host,
                port=settings.smtp_port, username=settings.smtp_username or None,
                password=settings.smtp_password if settings.smtp_username else None,
                use_tls=settings.smtp_tls == "tls", start_tls=settings.smtp_tls == "starttls",
                timeout=settings.smtp_timeout_s)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            raise failure(exc, server, settings) from exc
        if refused:
            raise _partly_refused(refused, len(recipients), server)
        return _snippet(f"sent to {len(recipients)} recipient{'s' if len(recipients) != 1 else ''} "
                        f"via {server}: {reply}")


def _unique(addresses: list[str]) -> list[str]:
    """Each address once (compared case-insensitively, as mail systems do), in the configured order."""
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REPLY_SNIPPET_CHARS else text[:REPLY_SNIPPET_CHARS - 1] + "…"


def _transient(code: int) -> bool:
    return 400 <= code < 500


def _partly_refused(refused: Mapping[str, aiosmtplib.SMTPResponse], total: int, server: str) -> ActionFailed:
    detail = "; ".join(f"{address}: {r.code} {r.message}" for address, r in refused.items())
    accepted = total - len(refused)
    if all(_transient(r.code) for r in refused.values()):
        # A retry sends the message to every recipient again; those who have it can tell by its Message-ID.
        return ActionFailed(_snippet(f"{server} accepted {accepted} of {total} recipients and deferred "
                                     f"the rest: {detail}"))
    return ActionFailed(_snippet(f"{server} delivered to {accepted} of {total} recipients but refused "
                                 f"{detail}"), permanent=True)


def failure(exc: BaseException, server: str, settings: Settings) -> ActionFailed:
    """What an exception from sending means: retryable, or permanent when only configuration mends it."""
    tls = _tls_error(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return ActionFailed(_snippet(f"{server}'s certificate does not verify: {tls.verify_message or tls}"),
                            permanent=True)
    if tls is not None:
        return ActionFailed(_snippet(f"TLS with {server} failed ({tls}); is CELLSTREAM_SMTP_TLS="
                                     f"{settings.smtp_tls} right for port {settings.smtp_port}?"),
                            permanent=True)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return ActionFailed(_snippet(f"{server} refused every recipient: {detail}"),
                            permanent=not all(_transient(r.code) for r in exc.recipients))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return ActionFailed(_snippet(f"{server} {_refused_what(exc)}: {exc.code} {exc.message}"),
                            permanent=not _transient(exc.code))
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return ActionFailed(_snippet(f"{server} did not answer within {settings.smtp_timeout_s:g} s: {exc}"))
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return ActionFailed(_snippet(f"could not talk to {server}: {exc}"))
    if isinstance(exc, aiosmtplib.SMTPException):
        # No reply code: the server lacks something the settings require (STARTTLS, AUTH, SMTPUTF8).
        return ActionFailed(_snippet(f"{server}: {exc}"), permanent=True)
    if isinstance(exc, OSError):
        return ActionFailed(_snippet(f"could not talk to {server}: {exc}"))
    # aiosmtplib's own checks of what it is asked to send.
    return ActionFailed(_snippet(f"cannot send this e-mail: {exc}"), permanent=True)


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind `exc`: aiosmtplib wraps some in connection errors and lets others through."""
    seen: BaseException | None = exc
    for _ in range(5):  # a chain of causes is short; the bound guards against a cycle
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__  # how aiosmtplib wraps; an implicit __context__ could be unrelated
    return None


def _refused_what(exc: aiosmtplib.SMTPResponseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "refused the login (CELLSTREAM_SMTP_USERNAME / CELLSTREAM_SMTP_PASSWORD)"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return f"refused the sender {exc.sender} (CELLSTREAM_SMTP_FROM)"
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return "refused the message"
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return "refused the connection"
    if isinstance(exc, aiosmtplib.SMTPHeloError):
        return "refused the greeting"
    return "answered"


# --- the message ------------------------------------------------------------------------------------------


def message_id(context: ActionContext, domain: str) -> str:
    """Stable for one execution of one configured e-mail action, whatever attempt sends it."""
    recipients = "\n".join(sorted(a.lower() for a in context.recipients))
    configured = f"{recipients}\0{context.one('subject') or ''}"
    digest = hashlib.sha256(configured.encode()).hexdigest()[:12]
    return f"<automation-{context.automation_uuid}.{context.execution_number}.{digest}@{domain}>"


def default_subject(context: ActionContext) -> str:
    return f"[Cellstream] {context.automation_name}: {_type_name(context.event.type_id)}"


def compose(context: ActionContext, recipients: list[str], from_header: str, now: datetime) -> EmailMessage:
    event = context.event
    # Header values may not hold line breaks; an automation's name is free text.
    subject = " ".join((context.one("subject") or default_subject(context)).split())
    domain = parseaddr(from_header)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_header
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(context, domain)
    # RFC 3834: no out-of-office or other automatic replies to a machine's notice.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Cellstream-Automation"] = context.automation_uuid
    message.set_content(body_text(context))
    message.add_attachment(context.event_body, maintype="application", subtype="json",
                           filename=attachment_name(event))
    return message


def attachment_name(event: Event) -> str:
    return "event.json" if event.id is None else f"event-{event.id}.json"


def body_text(context: ActionContext) -> str:
    event = context.event
    rows: list[tuple[str, str]] = [
        ("Automation", f"{context.automation_name} ({context.automation_uuid})"),
        ("Execution", str(context.execution_number)),
        ("Event", "-" if event.id is None else str(event.id)),
        ("When", format_timestamp(event.timestamp_ms)),
        ("Event type", f"{_type_name(event.type_id)} ({event.type_id})"),
        ("Severity", catalog.SEVERITIES.get(event.severity_id, str(event.severity_id))),
        ("Source", catalog.SOURCES.get(event.source_id, str(event.source_id))),
        ("Alert", "yes" if event.alert else "no"),
        ("Description", event.description or "-"),
        ("Organisation", _reference(event.organisation, "name")),
    ]
    for label, ref, keys in (("User", event.user, ("name", "username")),
                             ("Endpoint", event.endpoint, ("name", "ip_address", "imei")),
                             ("SIM", event.sim, ("iccid",)),
                             ("IMSI", event.imsi, ("imsi",))):
        if ref is not None:
            rows.append((label, _reference(ref, *keys)))
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"Automation \"{context.automation_name}\" ran for this event.", ""]
    for label, value in rows:
        first, *rest = value.splitlines() or [""]
        lines.append(f"{label + ':':<{width}}{first}")
        lines.extend(" " * width + line for line in rest)
    lines += ["", f"The event's JSON is attached as {attachment_name(event)}.", "",
              "-- ", "Sent by Cellstream because this address is a recipient of the automation."]
    return "\n".join(lines) + "\n"


def _type_name(type_id: int) -> str:
    known = catalog.BY_ID.get(type_id)
    return known.name if known else f"Event type {type_id}"


def _reference(ref: Mapping[str, Any], *keys: str) -> str:
    """`name, other facts (id N)` for an event's reference object, leaving out what it lacks."""
    facts = [str(ref[key]) for key in keys if ref.get(key) not in (None, "")]
    ident = f"id {ref['id']}" if ref.get("id") is not None else ""
    if not facts:
        return ident or "-"
    return ", ".join(facts) + (f" ({ident})" if ident else "")
