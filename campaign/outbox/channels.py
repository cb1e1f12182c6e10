"""The machines that deliver messages: SMTP for e-mail, an HTTP gateway for SMS.

Each ``send_*`` takes the settings mapping and an ``Outgoing`` snapshot (no
ORM object, no open transaction while the network is slow) and either returns
or raises ``ChannelError`` with a message worth showing in the outbox.
Letters have no machine: they are exported for printing (``letters.py``).
"""
from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid


class ChannelError(RuntimeError):
    """The channel refused or could not be reached; the message is retried later."""


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    recipient: str | None
    subject: str | None
    body: str
    name: str = ""


def send(config, out: Outgoing) -> None:
    if out.channel == "email":
        send_email(config, out)
    elif out.channel == "sms":
        send_sms(config, out)
    else:
        raise ChannelError(f"no machine sends the channel {out.channel!r}")


def send_email(config, out: Outgoing) -> None:
    """One e-mail over SMTP (optionally STARTTLS or implicit TLS, optionally authenticated)."""
    host = config.get("SMTP_HOST")
    if not host:
        raise ChannelError("e-mail is not set up: WINBACK_SMTP_HOST is empty")
    if not out.recipient:
        raise ChannelError("no e-mail address")
    sender = config.get("SMTP_FROM") or "winback@localhost"
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = formataddr((out.name, out.recipient)) if out.name else out.recipient
    mail["Subject"] = out.subject or ""
    mail["Message-ID"] = make_msgid(idstring=f"winback-{out.id}", domain=sender.rpartition("@")[2] or None)
    mail["X-Winback-Message"] = str(out.id)
    mail.set_content(out.body)
    timeout = config.get("SMTP_TIMEOUT", 30)
    port = int(config.get("SMTP_PORT") or (465 if config.get("SMTP_SSL") else 25))
    try:
        if config.get("SMTP_SSL"):
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if config.get("SMTP_STARTTLS") and not config.get("SMTP_SSL"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP: {type(exc).__name__}: {exc}") from exc


def send_sms(config, out: Outgoing) -> None:
    """POST ``{"to", "text", "reference"}`` as JSON to the gateway; any 2xx is sent."""
    url = config.get("SMS_GATEWAY_URL")
    if not url:
        raise ChannelError("SMS is not set up: WINBACK_SMS_GATEWAY_URL is empty")
    if not out.recipient:
        raise ChannelError("no phone number")
    payload = json.dumps({"to": out.recipient, "text": out.body, "reference": str(out.id)},
                         ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    if config.get("SMS_GATEWAY_TOKEN"):
        request.add_header("Authorization", f"Bearer {config['SMS_GATEWAY_TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=config.get("SMS_TIMEOUT", 15)) as resp:
            status = resp.status
            detail = resp.read(300)
    except urllib.error.HTTPError as exc:
        status, detail = exc.code, exc.read(300)
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(f"SMS gateway unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise ChannelError(f"SMS gateway answered {status}: {detail.decode('utf-8', 'replace')}")
