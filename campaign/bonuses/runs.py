"""Bonus runs (SPEC §8): compute a month, approve it, lock it by exporting.

A run reads the month from the scoring roll-ups (``score_days``: a few
thousand rows for a month, whatever the number of outcomes), applies the
pure rules of ``rules.py`` and writes one line per agent, the adjustments
for earlier locked runs, and a copy of the conversions it paid on. Money
is integer minor units of the plan's currency throughout.

Who belongs to which team in a month: the team under which the agent
logged most calls that month (then most conversions, then the latest day);
an agent without any that month counts in their current team. Team pools
are the conversions credited to the team at the time of the call.

Corrections: every run recomputes each locked month on today's data with
that month's own plan; what is due now minus what was paid for it so far
(its own line plus earlier adjustments) is a ``recalc`` adjustment — a
clawback when negative. A total never goes below 0; the part of a clawback
that a month could not recover is carried into the next run. Flush, never
commit: the caller owns the transaction.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, delete, except_, false, func, insert, literal, or_, select

from ..accounts.models import Staff, StaffRole, Team
from ..clients.models import Client
from ..clients.rules import full_name
from ..core import audit, clock
from ..core.models import AuditLog
from ..core.sql import month_key, one_at_a_time
from ..core.errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..scoring import scores
from ..scoring import services as scoring_services
from ..scoring.models import Conversion, ScoreDay
from ..scoring.rules import Period
from . import exports, rules
from .models import BonusAdjustment, BonusConversion, BonusLine, BonusPlan, BonusRun

# Computing, approving and locking runs take this lock, one at a time: a
# run's corrections are computed against the locked runs as they stand.
_LOCK_KEY = 0xB0_2115

PLAN_KEYS = ("team_per_visit", "rank_rewards", "min_calls", "competition_reward", "competition_penalty", "cap")


def plan_snapshot(plan: BonusPlan) -> dict:
    return {"currency": plan.currency, "version": plan.version, "team_per_visit": plan.team_per_visit,
            "rank_rewards": list(plan.rank_rewards or []), "min_calls": plan.min_calls,
            "competition_reward": plan.competition_reward, "competition_penalty": plan.competition_penalty,
            "cap": plan.cap}


def plan_of(snapshot: dict) -> rules.Plan:
    return rules.Plan(team_per_visit=snapshot["team_per_visit"], rank_rewards=tuple(snapshot["rank_rewards"]),
                      min_calls=snapshot["min_calls"], competition_reward=snapshot["competition_reward"],
                      competition_penalty=snapshot["competition_penalty"], cap=snapshot["cap"])


# ------------------------------------------------------------------ a month, computed

@dataclass
class Month:
    """A month computed on today's data: the rules' lines plus what explains them."""

    period: Period
    plan: rules.Plan
    lines: dict[int, rules.Line] = field(default_factory=dict)        # staff_id -> line
    agents: dict[int, rules.Agent] = field(default_factory=dict)      # staff_id -> numbers
    team_of: dict[int, int | None] = field(default_factory=dict)      # staff_id -> month team
    team_conversions: dict[int, int] = field(default_factory=dict)    # team_id -> conversions
    team_eligible: dict[int, int] = field(default_factory=dict)       # team_id -> members sharing
    ties: dict[int, list[str]] = field(default_factory=dict)          # staff_id -> codes sharing places
    comps: dict[int, list[dict]] = field(default_factory=dict)        # staff_id -> competitions
    staff: dict[int, tuple[str, str]] = field(default_factory=dict)   # staff_id -> (code, name)


def compute_month(period: Period, plan: rules.Plan, adjustments: dict[int, int] | None = None,
                  roster: dict[int, int | None] | None = None) -> Month:
    """The rules applied to ``period`` as the roll-ups say today."""
    return compute_months([(period, plan, adjustments, roster)])[period.key]


def compute_months(specs: list[tuple[Period, rules.Plan, dict | None, dict | None]]) -> dict[int, Month]:
    """Several months at once, each ``(period, plan, adjustments, roster)``:
    one aggregate over the roll-ups for all of them, one read of the people
    (the roll-ups must be refreshed).

    ``roster`` (staff id → team) is a locked run's: recomputing a locked
    month keeps its people and, for those without numbers that month, their
    team as it was — a hire or a team change since must not move old pools.
    Without one, the people are every active agent plus anyone with numbers,
    and an agent without numbers counts in their current team."""
    keys = [p.key for p, *_ in specs]
    numbers: dict[int, dict[int, list[int]]] = {k: defaultdict(lambda: [0, 0, 0]) for k in keys}
    best: dict[int, dict[int, tuple]] = {k: {} for k in keys}
    team_conv: dict[int, dict[int, int]] = {k: defaultdict(int) for k in keys}
    month_of = month_key(ScoreDay.day)
    rows = db.session.execute(
        select(month_of, ScoreDay.staff_id, ScoreDay.team_id, func.sum(ScoreDay.calls),
               func.sum(ScoreDay.reached_m), func.sum(ScoreDay.conversions),
               func.max(case((ScoreDay.calls > 0, ScoreDay.day))))
        .where(or_(*(and_(ScoreDay.day >= p.first, ScoreDay.day < p.next) for p, *_ in specs)))
        .group_by(month_of, ScoreDay.staff_id, ScoreDay.team_id)).all()
    for mkey, staff_id, team_id, calls, reached, conv, last_day in rows:
        calls, reached, conv = int(calls or 0), int(reached or 0), int(conv or 0)
        n = numbers[mkey][staff_id]
        n[0], n[1], n[2] = n[0] + calls, n[1] + reached, n[2] + conv
        if team_id is not None:
            team_conv[mkey][team_id] += conv
        rank = (calls, conv, last_day.toordinal() if last_day else 0, -(team_id or 0))
        if staff_id not in best[mkey] or rank > best[mkey][staff_id][0]:
            best[mkey][staff_id] = (rank, team_id)
    agents_now = select(StaffRole.staff_id).where(StaffRole.role == "agent")
    people = {sid: (code, name, team, active, agent) for sid, code, name, team, active, agent in db.session.execute(
        select(Staff.id, Staff.employee_code, Staff.name, Staff.team_id, Staff.active,
               Staff.id.in_(agents_now)))}
    team_ids = dict(db.session.execute(select(Team.name, Team.id)).all())
    out = {}
    for period, plan, adjustments, roster in specs:
        k = period.key
        if roster is None:
            ids = {sid for sid, p in people.items() if p[3] and p[4]} | set(numbers[k])
            team_of = {sid: best[k][sid][1] if sid in best[k] else people[sid][2] for sid in ids}
        else:
            ids = set(roster) | set(numbers[k])
            team_of = {sid: best[k][sid][1] if sid in best[k] else roster.get(sid, people[sid][2]) for sid in ids}
        out[k] = _apply(period, plan, adjustments, people, ids, team_of, numbers[k], team_conv[k], team_ids)
    return out


def _apply(period, plan, adjustments, people, ids, team_of, numbers, team_conv, team_ids) -> Month:
    month = Month(period, plan)
    for sid in sorted(ids):
        code, name = people[sid][0], people[sid][1]
        month.staff[sid] = (code, name)
        month.team_of[sid] = team_of[sid]
        calls, reached, conv = numbers.get(sid, (0, 0, 0))
        month.agents[sid] = rules.Agent(code, None if team_of[sid] is None else str(team_of[sid]),
                                        calls, reached, conv)
    by_code = {a.employee_code: sid for sid, a in month.agents.items()}
    month.team_conversions = dict(team_conv)
    for a in month.agents.values():
        if a.team is not None and rules.eligible(a, plan):
            month.team_eligible[int(a.team)] = month.team_eligible.get(int(a.team), 0) + 1
    results = _competitions(period, month, by_code, team_ids)
    adj = {month.agents[sid].employee_code: amount for sid, amount in (adjustments or {}).items()
           if sid in month.agents}
    lines = rules.statements(list(month.agents.values()), {str(t): n for t, n in team_conv.items()},
                             results, plan, adj)
    month.lines = {by_code[ln.employee_code]: ln for ln in lines}
    by_places: dict[tuple, list[str]] = defaultdict(list)
    for ln in lines:
        if ln.place:
            by_places[ln.place].append(ln.employee_code)
    for sid, ln in month.lines.items():
        if len(by_places.get(ln.place, ())) > 1:
            month.ties[sid] = sorted(by_places[ln.place])
    return month


def _competitions(period: Period, month: Month, by_code: dict[str, int], team_ids: dict[str, int]) -> list[rules.Result]:
    """The month's competitions as winners/losers (team sides: the members
    of that team this month), with a line of explanation per agent."""
    members: dict[int, list[int]] = defaultdict(list)
    for sid, team in month.team_of.items():
        if team is not None:
            members[team].append(sid)
    results = []
    for c in scoring_services.competitions(period, refresh=False):
        sides = []
        for side in (c["side_a"], c["side_b"]):
            if c["kind"] == "agent":
                sides.append([by_code[side["key"]]] if side["key"] in by_code else [])
            else:
                sides.append(sorted(members.get(team_ids.get(side["key"]), [])))
        label = c["name"] or f'{c["side_a"]["name"]} vs {c["side_b"]["name"]}'
        for mine, theirs, letter in ((0, 1, "a"), (1, 0, "b")):
            if c["winner"] == "draw":
                result, amount = "draw", 0
            elif c["winner"] == letter:
                result, amount = "won", month.plan.competition_reward
            else:
                result, amount = "lost", -month.plan.competition_penalty
            side = c["side_a"] if mine == 0 else c["side_b"]
            other = c["side_b"] if mine == 0 else c["side_a"]
            for sid in sides[mine]:
                month.comps.setdefault(sid, []).append(
                    {"id": c["id"], "name": label, "kind": c["kind"], "side": side["name"], "against": other["name"],
                     "rate": side["visit_rate"], "against_rate": other["visit_rate"], "result": result,
                     "amount": amount})
        if c["winner"] != "draw":
            win, lose = (sides[0], sides[1]) if c["winner"] == "a" else (sides[1], sides[0])
            results.append(rules.Result(winners=tuple(month.agents[s].employee_code for s in win),
                                        losers=tuple(month.agents[s].employee_code for s in lose)))
    return results


# ------------------------------------------------------------------ corrections of locked runs

def _locked_runs() -> list[BonusRun]:
    return list(db.session.scalars(select(BonusRun).where(BonusRun.status == "exported")
                                   .order_by(BonusRun.lock_seq)))


def pending_adjustments(exclude_month: int) -> list[dict]:
    """What every locked run still owes or is owed, on today's data:
    ``[{staff_id, ref_run, kind, amount, paid, due, detail}]``."""
    locked = [r for r in _locked_runs() if r.month != exclude_month]
    if not locked:
        return []
    ids = [r.id for r in locked]
    own = {(run_id, sid): amount for run_id, sid, amount in db.session.execute(
        select(BonusLine.run_id, BonusLine.staff_id, BonusLine.own).where(BonusLine.run_id.in_(ids)))}
    carried = db.session.execute(
        select(BonusLine.run_id, BonusLine.staff_id, BonusLine.carried)
        .where(BonusLine.run_id.in_(ids), BonusLine.carried > 0)).all()
    earlier = db.session.execute(
        select(BonusAdjustment.ref_run_id, BonusAdjustment.staff_id, BonusAdjustment.kind,
               func.sum(BonusAdjustment.amount))
        .where(BonusAdjustment.run_id.in_(ids))
        .group_by(BonusAdjustment.ref_run_id, BonusAdjustment.staff_id, BonusAdjustment.kind)).all()
    settled = defaultdict(int)   # (ref_run, staff) -> recalc amounts already booked
    consumed = set()             # (ref_run, staff) whose carry a locked run took over
    for ref, sid, kind, amount in earlier:
        if kind == "recalc":
            settled[(ref, sid)] += int(amount)
        else:
            consumed.add((ref, sid))
    rosters: dict[int, dict[int, int | None]] = defaultdict(dict)
    for run_id, sid, team in db.session.execute(
            select(BonusLine.run_id, BonusLine.staff_id, BonusLine.team_id).where(BonusLine.run_id.in_(ids))):
        rosters[run_id][sid] = team
    months = compute_months([(Period.of_key(r.month), plan_of(r.plan), None, rosters[r.id]) for r in locked])
    out = []
    for run in locked:
        month = months[run.month]
        staff = {sid for (rid, sid) in own if rid == run.id} | set(month.lines)
        for sid in sorted(staff):
            paid = own.get((run.id, sid), 0) + settled[(run.id, sid)]
            line = month.lines.get(sid)
            due = line.own if line else 0
            if due != paid:
                detail = {} if line is None else {
                    "team_share": line.team_share, "rank_reward": line.rank_reward,
                    "competition": line.competition, "conversions": month.agents[sid].conversions,
                    "team_conversions": month.team_conversions.get(month.team_of.get(sid), 0),
                    "calls": month.agents[sid].calls}
                out.append({"staff_id": sid, "ref_run": run, "kind": "recalc", "amount": due - paid,
                            "paid": paid, "due": due, "detail": detail})
    for run_id, sid, amount in carried:
        if (run_id, sid) not in consumed:
            run = next(r for r in locked if r.id == run_id)
            out.append({"staff_id": sid, "ref_run": run, "kind": "carry", "amount": -int(amount),
                        "paid": 0, "due": 0, "detail": {}})
    return out


def _conversions_changed(run_id_basis: int | None, month: int) -> bool:
    """Whether today's conversions of ``month`` differ from the copy the
    latest locked run kept of them."""
    now = select(Conversion.campaign_id, Conversion.client_id, Conversion.visit_id, Conversion.staff_id,
                 Conversion.team_id, Conversion.amount).where(Conversion.month == month)
    if run_id_basis is None:
        return db.session.scalar(select(literal(1)).select_from(now.subquery()).limit(1)) is not None
    kept = select(BonusConversion.campaign_id, BonusConversion.client_id, BonusConversion.visit_id,
                  BonusConversion.staff_id, BonusConversion.team_id, BonusConversion.amount) \
        .where(BonusConversion.run_id == run_id_basis, BonusConversion.month == month)
    for a, b in ((now, kept), (kept, now)):
        if db.session.scalar(select(literal(1)).select_from(except_(a, b).subquery()).limit(1)) is not None:
            return True
    return False


def basis_run(month: int, *, before_seq: int | None = None) -> int | None:
    """The locked run that last kept a copy of ``month``'s conversions."""
    q = (select(BonusRun.id).join(BonusConversion, BonusConversion.run_id == BonusRun.id)
         .where(BonusRun.status == "exported", BonusConversion.month == month))
    if before_seq is not None:
        q = q.where(BonusRun.lock_seq < before_seq)
    return db.session.scalar(q.order_by(BonusRun.lock_seq.desc()).limit(1))


def _keep_conversions(run_id: int, month: int) -> None:
    db.session.execute(insert(BonusConversion).from_select(
        ["run_id", "month", "conversion_id", "campaign_id", "client_id", "visit_id", "staff_id", "team_id",
         "local_date", "amount", "currency"],
        select(literal(run_id), Conversion.month, Conversion.id, Conversion.campaign_id, Conversion.client_id,
               Conversion.visit_id, Conversion.staff_id, Conversion.team_id, Conversion.local_date,
               Conversion.amount, Conversion.currency).where(Conversion.month == month)))


# ------------------------------------------------------------------ use-cases

def compute_run(period: Period, actor_id: int | None) -> BonusRun:
    """A draft run for ``period`` with the month's plan. An unlocked run of
    the month is replaced (its approval with it); a locked month is a 409."""
    today = clock.now().date()
    if period.first > today:
        raise ValidationError(f"{period.label} has not started yet: a run is computed for a month under way "
                              "or past", details={"period": "not started yet"})
    plan_row = db.session.get(BonusPlan, period.key)
    if plan_row is None:
        raise ValidationError(f"there is no bonus plan for {period.label}: set one first",
                              details={"period": "no bonus plan"})
    scores.refresh()  # commits its own work, before this transaction writes anything
    one_at_a_time(_LOCK_KEY, BonusRun)
    existing = db.session.scalar(select(BonusRun).where(BonusRun.month == period.key).with_for_update()
                                 .execution_options(populate_existing=True))
    if existing is not None and existing.status == "exported":
        raise Conflict(f"the {period.label} run #{existing.id} is exported and locked; corrections to it go into "
                       "a later month's run as adjustments")
    replaced = None
    if existing is not None:
        replaced = (existing.id, existing.status)
        for child in (BonusLine, BonusAdjustment, BonusConversion):
            db.session.execute(delete(child).where(child.run_id == existing.id))
        db.session.delete(existing)
        db.session.flush()
    snapshot = plan_snapshot(plan_row)
    basis_seq = db.session.scalar(select(func.coalesce(func.max(BonusRun.lock_seq), 0)))
    pending = pending_adjustments(period.key)
    per_staff = defaultdict(int)
    for adj in pending:
        per_staff[adj["staff_id"]] += adj["amount"]
    month = compute_month(period, plan_of(snapshot), dict(per_staff))
    missing = set(per_staff) - set(month.lines)
    if missing:  # someone owed a correction who has no numbers this month (left the company, say)
        month = _with_people(month, missing, dict(per_staff))
    run = BonusRun(month=period.key, status="draft", currency=plan_row.currency, plan=snapshot,
                   basis_seq=basis_seq, created_by=actor_id, created_at=clock.utcnow_naive())
    db.session.add(run)
    db.session.flush()
    team_names = dict(db.session.execute(select(Team.id, Team.name)).all())
    rows = []
    for sid, ln in month.lines.items():
        a, team = month.agents[sid], month.team_of.get(sid)
        rows.append({"run_id": run.id, "staff_id": sid, "employee_code": a.employee_code,
                     "name": month.staff[sid][1], "team_id": team, "team": team_names.get(team),
                     "calls": a.calls, "reached": a.reached, "conversions": a.conversions,
                     "eligible": rules.eligible(a, month.plan),
                     "team_conversions": month.team_conversions.get(team, 0) if team is not None else 0,
                     "team_eligible": month.team_eligible.get(team, 0) if team is not None else 0,
                     "places": list(ln.place), "tie": month.ties.get(sid, []), "competitions": month.comps.get(sid, []),
                     "team_share": ln.team_share, "rank_reward": ln.rank_reward, "competition": ln.competition,
                     "own": ln.own, "floored": ln.floored, "capped": ln.capped, "adjustments": ln.adjustments,
                     "total": ln.total, "carried": ln.carried})
    if rows:
        db.session.execute(insert(BonusLine), rows)
    if pending:
        db.session.execute(insert(BonusAdjustment), [
            {"run_id": run.id, "staff_id": adj["staff_id"], "ref_run_id": adj["ref_run"].id,
             "ref_month": adj["ref_run"].month, "kind": adj["kind"], "amount": adj["amount"], "paid": adj["paid"],
             "due": adj["due"], "detail": adj["detail"]} for adj in pending])
    _keep_conversions(run.id, period.key)
    for ref_month in sorted({adj["ref_run"].month for adj in pending if adj["kind"] == "recalc"}):
        if _conversions_changed(basis_run(ref_month), ref_month):
            _keep_conversions(run.id, ref_month)
    run.total = sum(ln.total for ln in month.lines.values())
    run.lines_count = len(month.lines)
    db.session.flush()
    audit.record("bonus_run.compute", actor_id=actor_id, target=f"bonus_run:{run.id}", period=period.label,
                 plan_version=snapshot["version"], total=run.total, currency=run.currency, lines=run.lines_count,
                 adjustments=len(pending), replaced_run=replaced[0] if replaced else None,
                 replaced_status=replaced[1] if replaced else None)
    if pending:  # one audit row per adjustment line, in one statement
        at = clock.utcnow_naive()
        db.session.execute(insert(AuditLog), [
            {"at": at, "actor_id": actor_id, "action": "bonus_run.adjustment", "target": f"bonus_run:{run.id}",
             "details": {"staff_id": adj["staff_id"], "ref_run": adj["ref_run"].id,
                         "ref_period": Period.of_key(adj["ref_run"].month).label, "kind": adj["kind"],
                         "amount": adj["amount"], "paid": adj["paid"], "due": adj["due"]}} for adj in pending])
    return run


def _with_people(month: Month, missing: set[int], adjustments: dict[int, int]) -> Month:
    """Add people owed a correction but absent from this month (no calls,
    no longer an agent) with their adjustments and nothing else."""
    for sid, code, name, team in db.session.execute(
            select(Staff.id, Staff.employee_code, Staff.name, Staff.team_id).where(Staff.id.in_(missing))):
        month.staff[sid] = (code, name)
        month.team_of[sid] = team
        month.agents[sid] = rules.Agent(code, None, 0, 0, 0)
        raw = adjustments[sid]
        month.lines[sid] = rules.Line(code, adjustments=raw, total=max(0, raw), carried=max(0, -raw))
    return month


def get_run(run_id: int, *, lock: bool = False) -> BonusRun:
    q = select(BonusRun).where(BonusRun.id == run_id)
    # Under the lock, read the row afresh even if this session loaded it before.
    run = db.session.scalar(q.with_for_update().execution_options(populate_existing=True) if lock else q)
    if run is None:
        raise NotFound(f"no bonus run #{run_id}")
    return run


def approve(run_id: int, actor_id: int | None) -> BonusRun:
    one_at_a_time(_LOCK_KEY, BonusRun)
    run = get_run(run_id, lock=True)
    if run.status == "exported":
        raise Conflict(f"run #{run.id} ({Period.of_key(run.month).label}) is exported and locked")
    if run.status == "draft":
        run.status, run.approved_by, run.approved_at = "approved", actor_id, clock.utcnow_naive()
        db.session.flush()
        audit.record("bonus_run.approve", actor_id=actor_id, target=f"bonus_run:{run.id}",
                     period=Period.of_key(run.month).label, total=run.total, currency=run.currency)
    return run


def run_of_month(period: Period) -> BonusRun:
    run = db.session.scalar(select(BonusRun).where(BonusRun.month == period.key))
    if run is None:
        raise NotFound(f"no bonus run for {period.label}: a manager computes one first")
    return run


def export(run_id: int, fmt: str, actor_id: int | None, *, via: str = "web") -> tuple[BonusRun, bytes]:
    """The run's payroll file; the first export locks the run and stores
    both files with their hashes, every later one serves the stored bytes
    (checked against the hash). Audited each time."""
    if fmt not in exports.FORMATS:
        raise ValidationError(f"unknown format {fmt!r}: csv or xlsx", details={"format": "csv or xlsx"})
    one_at_a_time(_LOCK_KEY, BonusRun)
    run = get_run(run_id, lock=True)
    first = run.status != "exported"
    if run.status == "draft":
        raise Conflict(f"run #{run.id} is a draft: a manager approves it before payroll exports it")
    if first:
        latest = db.session.scalar(select(func.coalesce(func.max(BonusRun.lock_seq), 0)))
        if latest != run.basis_seq:
            raise Conflict(f"another run was locked after run #{run.id} was computed, so its corrections may be "
                           "stale: a manager computes and approves it again")
        rows = export_rows(run)
        files = {f: exports.render(f, rows) for f in exports.FORMATS}
        run.csv_file, run.xlsx_file = files["csv"], files["xlsx"]
        run.csv_sha256 = hashlib.sha256(files["csv"]).hexdigest()
        run.xlsx_sha256 = hashlib.sha256(files["xlsx"]).hexdigest()
        run.status, run.lock_seq = "exported", latest + 1
        run.exported_by, run.exported_at = actor_id, clock.utcnow_naive()
        db.session.flush()
    data = run.csv_file if fmt == "csv" else run.xlsx_file
    digest = run.csv_sha256 if fmt == "csv" else run.xlsx_sha256
    if hashlib.sha256(data).hexdigest() != digest:  # pragma: no cover - storage corruption
        raise RuntimeError(f"run #{run.id}: the stored {fmt} file no longer matches its hash")
    audit.record("bonus_run.export", actor_id=actor_id, target=f"bonus_run:{run.id}",
                 period=Period.of_key(run.month).label, format=fmt, sha256=digest, locked_now=first, via=via)
    return run, data


def download(run_id: int, fmt: str, user, *, via: str) -> tuple[BonusRun, bytes]:
    """Payroll exports (the first export locks the run); a manager may only
    download a run payroll already locked. Every download is audited."""
    run = run_for(run_id, user)
    if not user.has_role("payroll") and run.status != "exported":
        raise Forbidden("payroll exports a run; a manager can download it once payroll has locked it")
    return export(run.id, fmt, user.id, via=via)


def export_rows(run: BonusRun) -> list[dict]:
    """SPEC §8 rows: agents with a non-zero total or any component, by employee code."""
    lines = db.session.scalars(select(BonusLine).where(BonusLine.run_id == run.id)
                               .order_by(BonusLine.employee_code)).all()
    label = Period.of_key(run.month).label
    return [{"period": label, "employee_code": ln.employee_code, "name": ln.name, "team": ln.team or "",
             "team_share": ln.team_share, "rank_reward": ln.rank_reward, "competition": ln.competition,
             "adjustments": ln.adjustments, "total": ln.total, "currency": run.currency}
            for ln in lines
            if ln.total or ln.team_share or ln.rank_reward or ln.competition or ln.adjustments]


# ------------------------------------------------------------------ reading

def _people(ids) -> dict[int, tuple[str, str]]:
    """staff id → (name, employee code) for just these ids (one statement)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {sid: (name, code) for sid, name, code in db.session.execute(
        select(Staff.id, Staff.name, Staff.employee_code).where(Staff.id.in_(ids)))}


def _who(run: BonusRun) -> dict:
    people = _people((run.created_by, run.approved_by, run.exported_by))
    return {k: people.get(getattr(run, k), (None,))[0] for k in ("created_by", "approved_by", "exported_by")}


def runs_list() -> list[dict]:
    runs = list(db.session.scalars(select(BonusRun).order_by(BonusRun.month.desc())))
    people = _people({getattr(r, k) for r in runs for k in ("created_by", "approved_by", "exported_by")})
    return [{"run": run, "period": Period.of_key(run.month).label,
             **{k: people.get(getattr(run, k), (None,))[0] for k in ("created_by", "approved_by", "exported_by")}}
            for run in runs]


def run_json(run: BonusRun, *, lines: bool = True) -> dict:
    out = {"id": run.id, "period": Period.of_key(run.month).label, "status": run.status, "currency": run.currency,
           "total": run.total, "lines": run.lines_count, "plan": run.plan,
           "created_at": run.created_at.isoformat() + "Z",
           "approved_at": run.approved_at.isoformat() + "Z" if run.approved_at else None,
           "exported_at": run.exported_at.isoformat() + "Z" if run.exported_at else None,
           "csv_sha256": run.csv_sha256, "xlsx_sha256": run.xlsx_sha256}
    if lines:
        out["statements"] = [
            {"employee_code": ln.employee_code, "team_share": ln.team_share, "rank_reward": ln.rank_reward,
             "competition": ln.competition, "adjustments": ln.adjustments, "total": ln.total}
            for ln in db.session.scalars(select(BonusLine).where(BonusLine.run_id == run.id)
                                         .order_by(BonusLine.employee_code))]
    return out


def statement(run: BonusRun, employee_code: str) -> dict:
    """Everything behind one agent's line: the conversions behind their own
    count and the team pool, the split, the place and any tie, each
    competition, each adjustment with the conversions added or clawed back."""
    line = db.session.scalar(select(BonusLine).where(BonusLine.run_id == run.id,
                                                     BonusLine.employee_code == employee_code))
    if line is None:
        raise NotFound(f"{employee_code} has no statement in run #{run.id}")
    convs = db.session.execute(
        select(BonusConversion, Client.ref, Client.first_name, Client.last_name, Client.language,
               Staff.employee_code)
        .join(Client, Client.id == BonusConversion.client_id)
        .join(Staff, Staff.id == BonusConversion.staff_id)
        .where(BonusConversion.run_id == run.id, BonusConversion.month == run.month,
               (BonusConversion.staff_id == line.staff_id)
               | ((BonusConversion.team_id == line.team_id) if line.team_id is not None else false()))
        .order_by(BonusConversion.local_date, BonusConversion.id)).all()
    convs = [(c, ref, full_name(first, last, lang), code) for c, ref, first, last, lang, code in convs]
    own = [_conv(c, ref, name, code) for c, ref, name, code in convs if c.staff_id == line.staff_id]
    pool = [_conv(c, ref, name, code) for c, ref, name, code in convs if c.team_id == line.team_id]
    adjustments = []
    for adj in db.session.scalars(select(BonusAdjustment).where(BonusAdjustment.run_id == run.id,
                                                                BonusAdjustment.staff_id == line.staff_id)
                                  .order_by(BonusAdjustment.ref_month, BonusAdjustment.id)):
        ref = db.session.get(BonusRun, adj.ref_run_id)
        item = {"ref_run": adj.ref_run_id, "ref_period": Period.of_key(adj.ref_month).label, "kind": adj.kind,
                "amount": adj.amount, "paid": adj.paid, "due": adj.due, "detail": adj.detail,
                "added": [], "removed": []}
        if adj.kind == "recalc":
            item["added"], item["removed"] = _diff(run.id, ref, adj.ref_month, line.staff_id)
        adjustments.append(item)
    who = _who(run)
    plan = run.plan
    share_pool = plan["team_per_visit"] * line.team_conversions
    return {"run": run, "period": Period.of_key(run.month).label, "line": line, "plan": plan,
            "own_conversions": own, "pool_conversions": pool, "pool": share_pool,
            "adjustments": adjustments, "approved_by": who["approved_by"],
            "exported_by": who["exported_by"],
            "place_rewards": [plan["rank_rewards"][p - 1] if p <= len(plan["rank_rewards"]) else 0
                              for p in (line.places or [])]}


def _conv(c: BonusConversion, ref: str, name: str, code: str) -> dict:
    return {"client_ref": ref, "client_name": name, "date": c.local_date, "amount": c.amount,
            "currency": c.currency, "employee_code": code, "campaign_id": c.campaign_id, "staff_id": c.staff_id}


def _diff(run_id: int, ref: BonusRun, month: int, staff_id: int) -> tuple[list[dict], list[dict]]:
    """Conversions of ``month`` credited to ``staff_id`` that this run kept
    but the basis it corrects did not (added), and the other way (clawed back)."""
    mine = db.session.execute(select(BonusConversion.run_id).where(
        BonusConversion.run_id == run_id, BonusConversion.month == month).limit(1)).first()
    if mine is None:
        return [], []
    this_seq = db.session.scalar(select(BonusRun.lock_seq).where(BonusRun.id == run_id))
    basis = basis_run(month, before_seq=this_seq) if this_seq is not None else basis_run(month)
    if basis is None:
        basis = ref.id
    def rows(rid):
        return {(c.campaign_id, c.client_id, c.visit_id): (c, r) for c, r in db.session.execute(
            select(BonusConversion, Client.ref).join(Client, Client.id == BonusConversion.client_id)
            .where(BonusConversion.run_id == rid, BonusConversion.month == month,
                   BonusConversion.staff_id == staff_id))}
    now, then = rows(run_id), rows(basis)
    fmt = (lambda c, r: {"client_ref": r, "date": c.local_date, "amount": c.amount, "currency": c.currency})
    return ([fmt(*now[k]) for k in sorted(set(now) - set(then))],
            [fmt(*then[k]) for k in sorted(set(then) - set(now))])


def audit_trail(run_id: int) -> list[dict]:
    rows = list(db.session.scalars(select(AuditLog).where(AuditLog.target == f"bonus_run:{run_id}")
                                   .order_by(AuditLog.id)))
    people = _people({a.actor_id for a in rows} | {(a.details or {}).get("staff_id") for a in rows})
    return [{"at": a.at, "action": a.action, "actor": people.get(a.actor_id, (None,))[0],
             "details": a.details or {}, "agent": people.get((a.details or {}).get("staff_id"), (None, None))[1]}
            for a in rows]




# ------------------------------------------------------------------ who may see what

def run_for(run_id: int, user) -> BonusRun:
    """Managers see every run; payroll sees approved and exported ones (a
    draft is not theirs to know about yet)."""
    run = get_run(run_id)
    if run.status == "draft" and not user.has_role("manager"):
        raise NotFound(f"no bonus run #{run_id}")
    return run


def statement_for(run_id: int, employee_code: str, user) -> dict:
    """Managers and payroll read any statement (payroll: of approved or
    exported runs); an agent reads only their own, once approved."""
    if user.has_role("manager", "payroll"):
        return statement(run_for(run_id, user), employee_code)
    if employee_code != user.employee_code:
        raise Forbidden("an agent reads only their own statement")
    run = get_run(run_id)
    if run.status == "draft":
        raise NotFound(f"no bonus run #{run_id}")
    return statement(run, employee_code)


def own_statements(staff_id: int) -> list[dict]:
    """An agent's lines in approved and exported runs, newest month first."""
    return [{"run_id": run_id, "period": Period.of_key(month).label, "status": status, "total": total,
             "currency": currency}
            for run_id, month, status, total, currency in db.session.execute(
                select(BonusRun.id, BonusRun.month, BonusRun.status, BonusLine.total, BonusRun.currency)
                .join(BonusLine, BonusLine.run_id == BonusRun.id)
                .where(BonusLine.staff_id == staff_id, BonusRun.status != "draft")
                .order_by(BonusRun.month.desc()))]


def statement_json(st: dict) -> dict:
    line, run = st["line"], st["run"]
    conv = (lambda c, own: {"client_ref": c["client_ref"] if own else None, "date": c["date"].isoformat(),
                            "amount": c["amount"], "currency": c["currency"], "employee_code": c["employee_code"]})
    return {"run_id": run.id, "period": st["period"], "status": run.status, "currency": run.currency,
            "employee_code": line.employee_code, "name": line.name, "team": line.team,
            "calls": line.calls, "reached": line.reached, "conversions": line.conversions, "eligible": line.eligible,
            "min_calls": st["plan"]["min_calls"],
            "team_pool": {"team_per_visit": st["plan"]["team_per_visit"], "conversions": line.team_conversions,
                          "pool": st["pool"], "shared_by": line.team_eligible, "share": line.team_share},
            "rank": {"places": line.places, "tied_with": [c for c in line.tie if c != line.employee_code],
                     "place_rewards": st["place_rewards"], "reward": line.rank_reward},
            "competitions": line.competitions, "competition": line.competition,
            "own": line.own, "floored": line.floored, "capped": line.capped, "cap": st["plan"]["cap"],
            "adjustments": [{k: (v if k not in ("added", "removed") else
                                 [{**c, "date": c["date"].isoformat()} for c in v])
                             for k, v in a.items()} for a in st["adjustments"]],
            "adjustments_total": line.adjustments, "total": line.total, "carried": line.carried,
            "conversions_credited": [conv(c, True) for c in st["own_conversions"]],
            "team_conversions": [conv(c, c["staff_id"] == line.staff_id) for c in st["pool_conversions"]]}


def run_of_month_or_none(period: Period) -> BonusRun | None:
    return db.session.scalar(select(BonusRun).where(BonusRun.month == period.key))


def run_page(run: BonusRun) -> dict:
    """A run's lines (by employee code) and the sums of each component."""
    lines = list(db.session.scalars(select(BonusLine).where(BonusLine.run_id == run.id)
                                    .order_by(BonusLine.employee_code)))
    sums = {k: sum(getattr(ln, k) for ln in lines)
            for k in ("team_share", "rank_reward", "competition", "adjustments", "total", "carried")}
    who = _who(run)
    refs = db.session.execute(
        select(BonusAdjustment.ref_run_id, BonusAdjustment.ref_month, BonusAdjustment.kind,
               func.count(), func.sum(BonusAdjustment.amount))
        .where(BonusAdjustment.run_id == run.id)
        .group_by(BonusAdjustment.ref_run_id, BonusAdjustment.ref_month, BonusAdjustment.kind)
        .order_by(BonusAdjustment.ref_month)).all()
    return {"lines": lines, "sums": sums, "paid": sum(1 for ln in lines if ln.total),
            "eligible": sum(1 for ln in lines if ln.eligible),
            "corrections": [{"ref_run": r, "ref_period": Period.of_key(m).label, "kind": k, "lines": n,
                             "amount": int(a or 0)} for r, m, k, n, a in refs],
            **who}
