"""End to end in a real browser (Playwright driving the system Chromium).

The journey of issue 2's "done when": on the embedded default with demo data,
a manager signs in, uploads a CSV with some bad rows, watches the progress bar,
downloads the rejects and sees the dormancy table.

The server is started the way the README's run command starts it
(``flask --app wsgi serve``), on its own SQLite file and embedded queue.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Chromium is not installed (.ci/run installs it with apt-get)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{folder / 'live.sqlite'}", SECRET_KEY="browser-test")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(flask + ["demo", "--clients", "300"], cwd=ROOT, env=env, check=True, capture_output=True)
    # The demo people read their pages in their own languages; these journeys
    # check English words, so the people they sign in as choose English.
    for code in ("M-PL01", "A-JP01", "P-PL01"):
        subprocess.run(flask + ["user", "set-language", code, "en"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    port = _free_port()
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(flask + ["serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("server did not start:\n" + (folder / "server.log").read_text())
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # keep-alive connections can hold a graceful stop
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


BAD_CLIENTS = (
    "client_ref,first_name,last_name,phone,email,language,store_code,consent_call,consent_sms,"
    "consent_email,consent_post,do_not_contact,notes\n"
    "E2E-1,Ewa,Kowalska,501 234 567,ewa@example.test,pl,WAW-MOKOTOW,1,1,0,0,0,\n"
    "E2E-2,Jan,Nowak,+48 601 234 567,,pl,NO-SUCH-STORE,1,0,0,0,0,\n"
    ",Anna,Wiśniewska,602 345 678,,pl,WAW-MOKOTOW,1,0,0,0,0,\n"
    "E2E-4,<script>alert(1)</script>,Test,n/a,,en,WAW-MOKOTOW,maybe,0,0,0,0,\n"
)


def sign_in(page, base: str, code: str, lands: str = "**/dormancy**") -> None:
    """Sign in with the demo password through the form; a manager lands on
    Dormancy, an agent on the call workspace."""
    page.goto(base + "/login")
    page.fill("#login", code)
    page.fill("#password", "winback-demo")
    page.keyboard.press("Enter")
    page.wait_for_url(lands)


def test_manager_imports_a_file_with_bad_rows_and_reads_dormancy(live_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(page, live_server, "M-PL01")

    # The dormancy table has the demo's clients in it.
    assert page.locator("table").first.is_visible()
    assert "d3plus" in page.content() or "120" in page.content()

    page.goto(live_server + "/imports")
    csv_file = tmp_path / "clients_with_errors.csv"
    csv_file.write_text(BAD_CLIENTS, encoding="utf-8")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("form[data-upload-form] button[type=submit]")

    # The progress page polls until the job is finished, then shows the counts.
    page.wait_for_selector("[data-state=finished]", timeout=60_000)
    text = page.inner_text("main")
    assert "rejected" in text.lower()
    assert page.locator(".progress").count() == 1

    with page.expect_download() as dl:
        page.click("a:has-text('Download rejects')")
    rejects = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert "NO-SUCH-STORE" in rejects
    assert "line" in rejects.splitlines()[0].lower()
    assert dialogs == []  # no alert() ran: hostile text stayed text
    page.screenshot(path=str(tmp_path / "import-finished.png"))


def test_manager_creates_previews_sets_quotas_launches_and_watches(live_server, browser, tmp_path):
    """Issue 3's journey, keyboard and mouse as a manager would, without docs:
    create → preview → quotas → launch → watch the queues fill."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    confirms = []
    page.on("dialog", lambda d: (confirms.append(d.message), d.accept()))
    sign_in(page, live_server, "M-PL01")

    page.click("nav >> text=Campaigns")
    page.click("text=New campaign")
    # A bad entry first: the form says what is wrong and keeps the input.
    page.fill("#f-name", "Kraków autumn")
    page.fill("#f-call_start", "21:00")
    page.fill("#f-call_end", "20:00")
    page.click("button:has-text('Save draft and preview')")
    assert page.locator("#form-errors").is_visible()
    assert page.input_value("#f-name") == "Kraków autumn"
    page.fill("#f-call_start", "10:00")
    page.check("input[name=stores][value=KRK-KAZIMIERZ]")
    for bucket in ("d1", "d2", "d3", "d3plus"):
        page.check(f"input[name=buckets][value={bucket}]")
    page.click("button:has-text('Save draft and preview')")

    page.wait_for_url("**/preview")
    text = page.inner_text("main")
    assert "eligible" in text and "Why clients are excluded" in text
    page.screenshot(path=str(tmp_path / "campaign-preview.png"))

    page.click("text=Set quotas →")
    page.wait_for_url("**/quotas")
    row = page.locator("tr", has_text="A-PL04")
    row.locator("input[name^=target-]").fill("5")
    page.click("button:has-text('Save quotas')")
    page.wait_for_selector(".flash:has-text('Quotas saved')")

    page.click("ol.steps >> text=Launch")  # the last step of the draft's stepper
    page.click("form button:has-text('Launch')")
    assert confirms and "Launch" in confirms[-1]
    # The page follows the assignment job (it reloads itself when the job
    # ends), then shows the queue it filled; expect() retries across reloads.
    from playwright.sync_api import expect
    cells = page.locator("tr", has_text="A-PL04").locator("td")
    expect(cells.nth(4)).to_have_text("5", timeout=60_000)  # items in the queue
    expect(cells.nth(3)).to_have_text("5")  # target
    expect(page.locator("main")).to_contain_text("ACTIVE", ignore_case=True)
    page.screenshot(path=str(tmp_path / "campaign-launched.png"))


def test_agent_takes_a_client_walks_the_script_and_logs_with_the_keyboard(live_server, browser, tmp_path):
    """Issue 4: sign in as an agent, take the next client, walk the script, log
    an outcome with the keyboard only, and get the next client."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, live_server, "A-JP01", lands="**/work**")
    page.screenshot(path=str(tmp_path / "work-start.png"))
    page.keyboard.press("n")
    page.wait_for_selector("#outcome-form")
    first = page.locator("#client-name").inner_text()
    script = page.locator(".script .step:not([hidden])")
    assert script.count() == 1, "one step at a time"
    greeting = script.inner_text()
    assert "{" not in greeting
    # Step 1 asks whether now is a good time: answer it with the keyboard.
    answer = page.locator(".script .step:not([hidden]) .answer").first
    answer.focus()
    page.keyboard.press("Enter")
    assert page.locator(".script .step:not([hidden])").inner_text() != greeting, "the answer moved the script on"
    page.locator("body").focus()
    page.keyboard.press("6")  # will visit
    assert page.locator("input[name=disposition][value=will_visit]").is_checked()
    page.screenshot(path=str(tmp_path / "work-call.png"), full_page=True)
    page.keyboard.press("Enter")  # save & next
    page.wait_for_selector(".flash")
    assert "Saved: Will visit" in page.locator(".flash").first.inner_text()
    page.wait_for_selector("#outcome-form")
    assert page.locator("#client-name").inner_text() != first, "the next client is on screen"


def test_the_leaderboard_moves_without_a_reload_when_an_agent_logs_a_call(live_server, browser, tmp_path):
    """Issue 5: the leaderboard is live. An agent keeps it open in one tab and
    logs a call in another; the numbers change in place (the page is not reloaded)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    board = context.new_page()
    sign_in(board, live_server, "A-JP01", lands="**/work**")
    board.goto(live_server + "/leaderboard")
    mine = board.locator("table.board tr.mine")
    assert mine.count() == 1, "the agent's own row is marked"
    calls_before = int(mine.locator("td[data-k=calls]").inner_text().replace(",", ""))
    board.evaluate("window.stayedHere = true")
    work = context.new_page()
    work.goto(live_server + "/work")
    work.keyboard.press("n")
    work.wait_for_selector("#outcome-form")
    work.keyboard.press("1")  # no answer
    work.keyboard.press("Enter")
    work.wait_for_selector(".flash")
    board.evaluate("window.winbackRefresh()")  # what the 20-second timer does
    deadline = time.monotonic() + 10
    while int(mine.locator("td[data-k=calls]").inner_text().replace(",", "")) == calls_before:
        assert time.monotonic() < deadline, "the leaderboard did not move"
        board.wait_for_timeout(100)
    assert int(mine.locator("td[data-k=calls]").inner_text().replace(",", "")) == calls_before + 1
    assert board.evaluate("window.stayedHere") is True, "refreshed in place, not reloaded"
    board.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    board.goto(live_server + "/leaderboard/wall")
    assert "clients back" in board.locator("body").inner_text()


def test_payroll_exports_the_approved_run_after_confirming_and_an_agent_reads_the_statement(
        live_server, browser, tmp_path):
    """The demo's run is approved. Payroll lands on Bonuses, opens it, is
    asked before the export that locks it (saying no changes nothing), says
    yes and gets the CSV; the run shows as exported; an agent then reads
    their own statement and is refused another agent's."""
    page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    asked = []
    answer = {"accept": False}
    page.on("dialog", lambda d: (asked.append(d.message), d.accept() if answer["accept"] else d.dismiss()))
    sign_in(page, live_server, "P-PL01", lands="**/bonuses/")
    page.click("table.runs a")
    page.wait_for_selector("text=Export and lock CSV")
    page.click("text=Export and lock CSV")
    assert asked and "locks the run for good" in asked[0]
    assert "approved" in page.inner_text(".run-head")
    answer["accept"] = True
    with page.expect_download() as dl:
        page.click("text=Export and lock CSV")
    exported = Path(dl.value.path()).read_bytes().decode("utf-8")
    assert exported.startswith("period,employee_code,name,team,team_share,rank_reward,competition,adjustments,"
                               "total,currency\r\n")
    page.reload()
    assert "exported" in page.inner_text(".run-head") and page.locator("text=Download XLSX").count() == 1
    page.screenshot(path=str(tmp_path / "bonus-run-exported.png"), full_page=True)
    run_url = page.url

    agent = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(agent, live_server, "A-JP01", lands="**/work**")
    agent.click("nav >> text=My bonus")
    agent.click("table.runs a")
    body = agent.inner_text("main")
    assert "How the total is made" in body and "Team Sakura brought back" in body
    assert "exported and locked" in body
    other = agent.goto(run_url + "/statements/A-JP02")
    assert other.status == 403
