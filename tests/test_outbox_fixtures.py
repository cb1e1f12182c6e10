"""Fixtures of the outbox tests: a real SMTP server (aiosmtpd), a real HTTP SMS
gateway (http.server in a thread), campaign items to follow up. Imported by the
other test_outbox*.py modules; it holds no tests itself."""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from campaign.clients.models import Contact
from campaign.extensions import db

T0 = "2026-05-01T09:00:00+00:00"
OUTBOX_DEFAULTS = {"OUTBOX_KICK": False, "SMTP_HOST": None, "SMTP_PORT": None, "SMTP_FROM": "shop@winback.test",
                   "SMTP_USER": None, "SMTP_PASSWORD": None, "SMTP_STARTTLS": False, "SMTP_SSL": False,
                   "SMS_GATEWAY_URL": None, "SMS_GATEWAY_TOKEN": None, "SMS_INBOUND_SECRET": "s3cret",
                   "OUTBOX_MAX_ATTEMPTS": 3, "OUTBOX_RETRY_SECONDS": 60, "CONTACT_CAP": 17}


@pytest.fixture(autouse=True)
def outbox_settings(app):
    """Channels off and no dispatch on commit unless a test turns them on."""
    saved = {k: app.config.get(k) for k in OUTBOX_DEFAULTS}
    app.config.update(OUTBOX_DEFAULTS)
    yield app.config
    app.config.update(saved)


class Gateway:
    def __init__(self):
        self.posts: list[dict] = []
        self.headers: list[dict] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.delay = 0.0
        self.lock = threading.Lock()


@pytest.fixture
def sms_gateway(app):
    """A local HTTP SMS gateway that records every POSTed JSON body."""
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
            if gw.delay:
                time.sleep(gw.delay)
            with gw.lock:
                gw.posts.append(body)
                gw.headers.append(dict(self.headers))
                status = gw.statuses.pop(0) if gw.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": %s}' % (b"true" if status < 300 else b"false"))

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config.update(SMS_GATEWAY_URL=f"http://127.0.0.1:{server.server_port}/send", SMS_GATEWAY_TOKEN="gw-token")
    yield gw
    server.shutdown()
    server.server_close()


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "mail": message_from_bytes(envelope.content, policy=policy.default)})
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server (aiosmtpd) on a free local port."""
    from aiosmtpd.controller import Controller
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port to check that it is up
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    yield inbox
    controller.stop()


@pytest.fixture
def make_item(ctx):
    """A campaign (optionally given) and a queue item of ``client`` in it."""
    from campaign.campaigns.models import Campaign, CampaignItem

    def make(client, campaign=None, *, offers=("free_trial",)):
        now = datetime(2026, 4, 1)
        if campaign is None:
            campaign = Campaign(name=f"Win-back {client.ref}", status="active", holdout_seed=1,
                                offers=list(offers), created_at=now, updated_at=now)
            db.session.add(campaign)
            db.session.flush()
        item = CampaignItem(campaign_id=campaign.id, client_id=client.id, store_id=client.store_id,
                            status="queued", priority=1, created_at=now)
        db.session.add(item)
        db.session.commit()
        return item, campaign
    return make


def add_contacts(client, n, at=datetime(2025, 1, 1)):
    for _ in range(n):
        db.session.add(Contact(client_id=client.id, channel="call", at=at))
    db.session.commit()


def contacts_of(client_id, channel=None):
    q = db.select(Contact).where(Contact.client_id == client_id)
    if channel:
        q = q.where(Contact.channel == channel)
    return db.session.scalars(q).all()
