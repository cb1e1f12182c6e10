"""The demo data set (SPEC §9 ``demo``, §10 "loads a demo data set on first start").

The data is generated as CSV files by ``scripts/demo_data.py`` and loaded
through the product's own import, so the demo exercises exactly what a real
customer's files go through (delimiters, booleans, phone normalisation,
decimal commas, upserts). Then a fixed set of demo people get the documented
password ``winback-demo``; nobody else does.

Idempotent: the import is an upsert by ref/code and the generator is
deterministic for a seed and a day, so a second run on the same day reports
``inserted=0 updated=0`` for every file and leaves passwords (and so sign-in
sessions) alone when they already are the demo password. The visit dates
follow the day of the load, so on a later day the visits are reported as
updated (the history moves forward); pin ``WINBACK_NOW`` to get the same data
on any day.
"""
from __future__ import annotations

import importlib.util
import random
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from flask import g

from sqlalchemy import select

from .accounts import services as accounts
from .accounts.models import ROLES
from .campaigns import assignment
from .campaigns import services as campaigns
from .campaigns.models import Campaign
from .clients.models import Client
from .core import clock
from .core.i18n import LANGUAGES
from .extensions import db
from .imports import services as imports

DEMO_PASSWORD = "winback-demo"

# The generator is a standalone script (standard library only) so benchmarks
# and people can run it without the app; the app loads it from the checkout.
_GENERATOR_PATH = Path(__file__).resolve().parent.parent / "scripts" / "demo_data.py"
_GENERATOR_MODULE = "winback_demo_data"


def generator() -> ModuleType:
    """The ``scripts/demo_data.py`` module (loaded once)."""
    module = sys.modules.get(_GENERATOR_MODULE)
    if module is None:
        spec = importlib.util.spec_from_file_location(_GENERATOR_MODULE, _GENERATOR_PATH)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"demo data generator not found at {_GENERATOR_PATH}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_GENERATOR_MODULE] = module
        spec.loader.exec_module(module)
    return module


def database_is_empty() -> bool:
    """True when there are no clients yet (the first start of SPEC §10)."""
    return db.session.scalar(select(Client.id).limit(1)) is None


def load(clients: int = 3000, seed: int = 7, echo: Callable[[str], object] = print) -> str:
    """Generate the demo CSVs as of today (``clock.now()``), import them in
    order stores, staff, clients, visits, give the demo people the demo
    password, commit, and return the report of demo logins.

    A file refused whole (``imports.FileRefused``) is a bug in the generator
    or the import and is raised, not reported as a row count."""
    gen = generator()
    today = clock.now().date()
    with tempfile.TemporaryDirectory(prefix="winback-demo-") as tmp:
        paths = gen.write_demo_csvs(tmp, clients=clients, seed=seed, today=today)
        for kind, path in paths.items():
            summary = imports.import_path(kind, str(path))
            db.session.commit()
            echo(f"{path.name:<12} inserted={summary['inserted']} updated={summary['updated']} "
                 f"unchanged={summary['unchanged']} rejected={summary['rejected']}")
            for r in summary["rejects"][:5]:
                echo(f"  line {r['line']}, {r['column'] or '-'}: {r['reason']}")
    people = _give_demo_passwords(gen.DEMO_LOGINS)
    _give_demo_languages(people)
    db.session.commit()
    for line in _demo_campaigns():
        echo(line)
    return _report(people)


DEMO_CAMPAIGNS = (
    # name, stores, quotas {employee_code: target}, launched
    ("Japan autumn win-back", ["TYO-SHIBUYA", "OSA-UMEDA"],
     {"A-JP01": 60, "A-JP02": 60, "A-JP03": 50, "A-JP04": 60, "A-JP05": 40, "A-GB03": 20}, True),
    ("Poland win-back", ["WAW-MOKOTOW", "KRK-KAZIMIERZ"],
     {"A-PL01": 60, "A-PL02": 60, "A-PL03": 50, "A-PL04": 60, "A-PL05": 40, "A-GB04": 20}, False),
)


def _demo_campaigns() -> list[str]:
    """Two demo campaigns on first load: one launched (queues to work), one
    draft with quotas (to preview and launch). Skipped once any campaign exists."""
    if db.session.scalar(select(Campaign.id).limit(1)) is not None:
        return []
    lines = []
    for name, stores, targets, launched in DEMO_CAMPAIGNS:
        camp = campaigns.create_campaign(
            {"name": name, "buckets": ["d1", "d2", "d3", "d3plus"], "tiers": ["regular", "one_time"],
             "stores": stores, "holdout_share": 0.1, "offers": ["free_trial", "renewal_discount"],
             # Demo only: open all day, so the call workspace can be tried at any hour.
             "calling_hours": {"start": "00:00", "end": "23:59"}},
            actor_id=None)
        camp.holdout_seed = 7001 + len(lines)  # the same demo draws the same holdout every time
        campaigns.set_quotas(camp, [{"employee_code": code, "target": t} for code, t in targets.items()],
                             actor_id=None)
        if launched:
            # Launched two weeks ago, so the leaderboard and reports have a history to show.
            with _pinned(clock.now() - timedelta(days=HISTORY_DAYS)):
                camp.status, camp.launched_at = "active", clock.utcnow_naive()
                camp.launched_as_of = clock.now().date()
                result = assignment.run(camp.id)
            db.session.commit()
            lines.append(f"campaign   {name!r}: launched, {result['assigned']} clients queued, "
                         f"{result['holdout']} in the holdout, {result['pool']} in the pool")
            lines.append(_demo_history(camp, targets))
        else:
            lines.append(f"campaign   {name!r}: draft with quotas, ready to preview and launch")
        db.session.commit()
    return lines


HISTORY_DAYS = 14
# Calls a day per agent in the demo history; A-JP01 (the documented live
# queue) makes few, so plenty is left to call.
CALLS_A_DAY = {"A-JP01": 1}
# No wrong_number: its effect (phone not callable) is the clients file's to
# decide, and a second demo load must find the clients unchanged.
DISPOSITIONS = (("no_answer", 34), ("busy", 8), ("voicemail", 10), ("callback", 6), ("booked", 13),
                ("will_visit", 14), ("not_interested", 10), ("moved_away", 2),
                ("complaint", 1))
REASONS = ("parking", "service", "technique", "price", "personal", "personal", "mismatch", "moved")


@contextmanager
def _pinned(at: datetime):
    """Run under a pinned clock (the same mechanism a job started under a pin uses)."""
    setattr(g, clock.JOB_PIN, at.isoformat())
    try:
        yield
    finally:
        g.pop(clock.JOB_PIN, None)


def _demo_history(camp: Campaign, targets: dict) -> str:
    """Two weeks of calls through the real services, each under the clock of
    its moment, then the visits that followed through the POS upsert: the
    leaderboard, competitions and reports have something to show."""
    from .calls import services as calls
    from .scoring import scores
    from .scoring import services as scoring

    rnd = random.Random(11)
    real_now = clock.now()
    start = real_now - timedelta(days=HISTORY_DAYS)
    agents = [accounts.staff_by_code(code) for code in targets]
    names, weights = zip(*DISPOSITIONS)
    visits, logged = [], 0
    for day in range(HISTORY_DAYS):
        for agent in agents:
            for k in range(CALLS_A_DAY.get(agent.employee_code, rnd.randint(2, 5))):
                at = (start + timedelta(days=day)).replace(hour=1 + 2 * k, minute=rnd.randrange(60),
                                                           second=0, microsecond=0)
                if at >= real_now:
                    break
                with _pinned(at):
                    now = clock.now()
                    claim = calls.claim_next(agent, now)
                    if claim is None:
                        break
                    disposition = rnd.choices(names, weights)[0]
                    data = {"disposition": disposition, "claim": claim.token}
                    if disposition not in ("no_answer", "busy", "voicemail", "wrong_number"):
                        data["reason"] = rnd.choice(REASONS)
                        data["offer"] = rnd.choice(camp.offers or [None])
                    if disposition == "callback":
                        data["callback_at"] = (now + timedelta(hours=rnd.randint(20, 50))).isoformat()
                    if disposition == "booked":
                        data["booked_at"] = (now + timedelta(days=rnd.randint(2, 6))).replace(
                            hour=5, minute=0).isoformat()
                        data["service"] = "Foot massage 60 min"
                    calls.log_outcome(claim.item_id, agent, data, now)
                    db.session.commit()
                    logged += 1
                back = {"booked": 0.75, "will_visit": 0.45, "callback": 0.15, "not_interested": 0.04}
                if rnd.random() < back.get(disposition, 0.0):
                    when = at + timedelta(days=rnd.randint(1, 12), hours=3)
                    if when < real_now:
                        client = db.session.get(Client, claim.client_id)
                        visits.append({"visit_ref": f"DEMO-WB-{claim.item_id}", "client_ref": client.ref,
                                       "store_code": client.store.code,
                                       "visited_at": when.astimezone(ZoneInfo(client.store.timezone))
                                       .replace(tzinfo=None).isoformat(timespec="minutes"),
                                       "service": "Foot massage 60 min", "amount": str(rnd.choice((6800, 8800, 12000))),
                                       "status": "completed"})
    for i in range(0, len(visits), imports.MAX_API_VISITS):
        imports.upsert_visits(visits[i:i + imports.MAX_API_VISITS])
        db.session.commit()
    scores.refresh()
    period = f"{real_now.year:04d}-{real_now.month:02d}"
    for kind, a, b in (("agent", "A-JP01", "A-JP02"), ("team", "Sakura", "Thames")):
        scoring.create_competition({"period": period, "kind": kind, "side_a": a, "side_b": b,
                                    "name": "Demo derby" if kind == "agent" else None}, actor_id=None)
    db.session.commit()
    converted = len(scoring.board(campaign=camp, period=None, by="agent"))
    bonus = _demo_bonus(period)
    return (f"history    {logged} calls over {HISTORY_DAYS} days, {len(visits)} visits after them, "
            f"{converted} agents on the leaderboard, 2 competitions in {period}\n{bonus}")


DEMO_PLAN = {"currency": "JPY", "team_per_visit": 1500, "rank_rewards": [30000, 20000, 10000], "min_calls": 10,
             "competition_reward": 5000, "competition_penalty": 2000, "cap": 100000}


def _demo_bonus(period: str) -> str:
    """The month's plan (in yen: the launched campaign is in Japan) and its
    run, approved, so payroll can export it and agents read their statements."""
    from .bonuses import runs, services as bonus_services
    from .scoring.rules import Period

    month = Period.parse(period)
    bonus_services.put_plan(month, DEMO_PLAN, None)
    run = runs.compute_run(month, None)
    runs.approve(run.id, None)
    db.session.commit()
    return (f"bonuses    plan and approved run #{run.id} for {period}: {run.lines_count} statements, "
            f"{run.total} {run.currency} (payroll exports it)")


def _give_demo_passwords(codes) -> list:
    """Set the demo password on the demo people only. A person who already has
    it is left alone, since a new password signs out all their browsers."""
    people = []
    for code in codes:
        staff = accounts.staff_by_code(code)
        if staff.password_hash is None or accounts.authenticate(code, DEMO_PASSWORD) is None:
            # The demo password is published (README), so no policy can make it safe;
            # the policy applies to every password a person chooses.
            accounts.set_password(staff, DEMO_PASSWORD, actor_id=None, policy=False)
        people.append(staff)
    db.session.flush()
    return people


def _give_demo_languages(people) -> None:
    """Each demo person reads pages in a language they speak, so the demo logins
    cover every page language (M-JP01 ja, M-PL01 pl, A-RU01 ru, A-CN01 zh,
    ADM-01 en …). A choice already made on *My account* is kept."""
    for staff in people:
        if staff.ui_language is None:
            spoken = [lang for lang in staff.languages if lang in LANGUAGES]
            staff.ui_language = next((lang for lang in spoken if lang != "en"), "en")
    db.session.flush()


def _report(people) -> str:
    lines = [f"Demo logins (password: {DEMO_PASSWORD}; sign in with the e-mail or the "
             "employee code):"]
    for staff in people:
        roles = "+".join(r for r in ROLES if r in staff.roles)
        where = staff.team.name if staff.team else staff.store.code if staff.store else ""
        lines.append(f"  {roles:<8} {staff.employee_code:<7} {staff.email or '':<36} "
                     f"{staff.name} ({where})")
    return "\n".join(lines)


def login_help() -> str:
    """The line the run command prints: demo sign-ins, without touching the database."""
    codes = ", ".join(generator().DEMO_LOGINS)
    return (f"Sign in with an employee code and the password {DEMO_PASSWORD}: "
            f"manager M-PL01, agent A-JP01 (a live call queue), payroll P-PL01, admin ADM-01 "
            f"(all demo logins: {codes})")
