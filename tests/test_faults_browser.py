"""Fault: a claim abandoned by a closed browser returns to the queue (issue 8).

An agent takes the next client in a real browser (Playwright driving the
system Chromium) and the browser context is closed without an outcome. Until
the claim expires (15 minutes, SPEC §6) nobody else gets that client; after
it, the agent's next client in a new browser is that one again.

Moving time for a server in another process: the app's clock is pinned by
``WINBACK_NOW``, read when the process starts, and the server keeps nothing
in memory between requests (claims are rows with their time; sessions are
rows too). So each moment is the same database served by ``flask serve``
started with that moment's ``WINBACK_NOW``: what a single server would see
when its clock reached it. The test runs on its own SQLite file (embedded
queue), in both of CI's passes.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from campaign.extensions import db
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_faults import SUITE_LIMITS, own_port

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 6, 2, 10, 0, 0)  # UTC: 12:00 in Warsaw, inside the calling hours
PASSWORD = "abandoned-claims-come-back"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Chromium is not installed (.ci/run installs it with apt-get)")


def at(moment: datetime) -> str:
    return moment.isoformat() + "+00:00"


def seed(url: str) -> None:
    """A store, two agents with a password, 20 dormant clients in a launched
    campaign, ten in each agent's queue."""
    from campaign import create_app
    from campaign.accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
    from campaign.accounts.services import set_password
    from tests.campaign_helpers import add_clients, launch, new_campaign, quotas

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "WINBACK_NOW": at(T0),
                      "SECRET_KEY": "abandoned-claim", "OUTBOX_TICK_SECONDS": 0,
                      "RATELIMIT_STORAGE_URI": SUITE_LIMITS})
    with app.app_context():
        db.create_all()
        store = Store(code="WAW", name="Warszawa", timezone="Europe/Warsaw", country="PL", currency="PLN")
        team = Team(name="North")
        agents = []
        for code, name in (("A01", "Anna Nowak"), ("A02", "Adam Wiśniewski")):
            s = Staff(employee_code=code, name=name, email=f"{code.lower()}@example.test", team=team, store=store)
            s.role_rows = [StaffRole(role="agent")]
            s.language_rows = [StaffLanguage(language="pl")]
            db.session.add(s)
            agents.append(s)
        db.session.commit()
        for s in agents:
            set_password(s, PASSWORD, actor_id=None)
        db.session.commit()
        add_clients(store, 20, language="pl", days=45, step=1, prefix="B")
        camp = new_campaign(None, name="Browser claims", stores=["WAW"])
        quotas(camp, [(agents[0], 10), (agents[1], 10)])
        launch(camp)
        db.session.remove()
        db.engine.dispose()


class Server:
    """``flask serve`` (the embedded default) on the test's database, its clock pinned at ``moment``."""

    def __init__(self, env: dict, folder: Path, moment: datetime):
        self.port = own_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"server-{moment:%H%M%S}.log"
        self._fh = self.log.open("wb")
        argv = [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env | {"WINBACK_NOW": at(moment)}, stdout=self._fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/login", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("server did not start:\n" + self.log.read_text(errors="replace"))
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # keep-alive connections can hold a graceful stop
            os.killpg(self.proc.pid, signal.SIGKILL)  # gunicorn and its worker
            self.proc.wait(timeout=5)
        self._fh.close()


def sign_in(context, server: Server, code: str):
    page = context.new_page()
    page.goto(server.base + "/login")
    page.fill("#login", code)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/work**")
    return page


def on_screen(page) -> tuple[int, str]:
    """The item id and the client's name of the call on screen."""
    page.wait_for_selector("#outcome-form")
    action = page.get_attribute("#outcome-form", "action")
    return int(action.rstrip("/").split("/")[-2]), page.inner_text("#client-name")


def will_visit_and_next(page) -> None:
    """Log "will visit" and go on to the next client, with the keyboard (6, then Enter)."""
    page.keyboard.press("6")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".flash").count() >= 1


def take_next(page) -> tuple[int, str]:
    """Press n on the call workspace (the keyboard's "next client")."""
    page.keyboard.press("n")
    return on_screen(page)


def test_a_claim_abandoned_by_a_closed_browser_returns_to_the_queue_after_15_minutes(tmp_path):
    from playwright.sync_api import sync_playwright

    path = tmp_path / "claims.sqlite"
    seed(f"sqlite:///{path}")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "WINBACK_NOW")}
    env.update(DATABASE_URL=f"sqlite:///{path}", SECRET_KEY="abandoned-claim", WINBACK_OUTBOX_TICK_SECONDS="0")

    def item_row(item_id: int) -> tuple:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT status, claim_token, claimed_at, staff_id, attempts FROM campaign_items "
                                "WHERE id = ?", (item_id,)).fetchone()

    def outcomes(item_id: int) -> int:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT count(*) FROM outcomes WHERE item_id = ?", (item_id,)).fetchone()[0]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # 12:00: the agent takes a client, then the browser goes (no outcome, no sign-out).
            server = Server(env, tmp_path, T0)
            try:
                first = browser.new_context(viewport={"width": 1366, "height": 768})
                item, name = take_next(sign_in(first, server, "A01"))
                first.close()
            finally:
                server.stop()
            status, token, claimed_at, owner, attempts = item_row(item)
            assert (status, claimed_at, attempts) == ("claimed", T0.strftime("%Y-%m-%d %H:%M:%S.%f"), 0)

            # 12:14: still the agent's live claim. Another agent's next clients are others; the
            # item keeps its claim, and nothing was logged on it.
            server = Server(env, tmp_path, T0 + timedelta(minutes=14))
            try:
                other = browser.new_context(viewport={"width": 1366, "height": 768})
                page = sign_in(other, server, "A02")
                seen = [take_next(page)]
                will_visit_and_next(page)
                seen.append(on_screen(page))
                assert item not in {i for i, _ in seen} and name not in {n for _, n in seen}, seen
                other.close()
            finally:
                server.stop()
            assert item_row(item) == (status, token, claimed_at, owner, 0), "nobody took it meanwhile"
            assert outcomes(item) == 0

            # 12:15:01: the claim has expired; the agent's next client, in a new browser, is that one.
            server = Server(env, tmp_path, T0 + timedelta(minutes=15, seconds=1))
            try:
                again = browser.new_context(viewport={"width": 1366, "height": 768})
                page = sign_in(again, server, "A01")
                assert page.locator("#outcome-form").count() == 0, "an expired claim is not resumed"
                assert take_next(page) == (item, name), "the abandoned client is offered again, in its place"
                new_status, new_token, new_at, new_owner, _ = item_row(item)
                assert (new_status, new_owner) == ("claimed", owner) and new_token != token
                assert new_at == (T0 + timedelta(minutes=15, seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
                will_visit_and_next(page)
                assert outcomes(item) == 1 and item_row(item)[0] == "closed"
                again.close()
            finally:
                server.stop()
        except BaseException:
            for log in sorted(tmp_path.glob("server-*.log")):  # what the servers said, for the failure report
                print(f"----- {log.name}\n" + log.read_text(errors="replace")[-3000:])
            raise
        finally:
            browser.close()
