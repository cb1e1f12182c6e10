"""Bonus pages (SCREENS.md "Payroll and agents — bonuses"): the runs with
their status and who approved and exported them, a month's plan form, a
run's lines with Approve / Export (each confirmed: export locks), every
agent's printable statement, and an agent's own statements."""
from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import roles_required
from ..accounts.models import Store
from ..core import clock
from ..core.errors import AppError, Forbidden, ValidationError
from ..core.msgid import N_
from ..core.money import AmountError, format_minor, parse_amount
from ..extensions import db
from ..scoring import services as scoring
from ..scoring.rules import Period
from . import exports, runs, services
from .models import BonusPlan

bp = Blueprint("bonuses", __name__, url_prefix="/bonuses")

MONEY_FIELDS = ("team_per_visit", "competition_reward", "competition_penalty", "cap")
# The services' fixed messages (the API gives them in English), in the page's language when a page shows them.
# Messages with a run number or a month in them stay English until they get codes of their own.
SERVICE_MESSAGES = {
    "payroll exports a run; a manager can download it once payroll has locked it":
        N_("payroll exports a run; a manager can download it once payroll has locked it"),
}


def _shown(exc: AppError) -> str:
    return gettext(SERVICE_MESSAGES[exc.message]) if exc.message in SERVICE_MESSAGES else exc.message


def _last_month() -> Period:
    return Period.containing(clock.now().date()).shifted(-1)


@bp.get("/")
@roles_required("manager", "payroll", "agent")
def index():
    if not current_user.has_role("manager", "payroll"):
        return redirect(url_for("bonuses.mine"))
    manager = current_user.has_role("manager")
    listing = [r for r in runs.runs_list() if manager or r["run"].status != "draft"]
    plans = list(db.session.scalars(select(BonusPlan).order_by(BonusPlan.month.desc()).limit(12)))
    this = Period.containing(clock.now().date())
    return render_template("bonuses/index.html", runs=listing, plans=plans, manager=manager,
                           default_period=_last_month().label, this_month=this,
                           months=[this.shifted(-i) for i in range(0, 4)], Period=Period)


@bp.route("/plans/<period>", methods=["GET", "POST"])
@roles_required("manager", "payroll")
def plan(period: str):
    month = scoring.period_arg(period, required=True)
    row = db.session.get(BonusPlan, month.key)
    currencies = sorted(set(db.session.scalars(select(Store.currency).distinct())))
    form = _plan_form(row, currencies)
    errors: dict = {}
    status = 200
    if request.method == "POST":
        if not current_user.has_role("manager"):
            raise Forbidden(gettext("only a manager changes a bonus plan"))
        form = {k: (request.form.get(k) or "").strip() for k in form}
        try:
            data = _plan_data(form)
            saved, created = services.put_plan(month, data, current_user.id, version=form.get("version") or None)
        except AppError as exc:
            db.session.rollback()
            errors = dict(exc.details or {})
            errors["form"] = exc.message
            status = exc.status
        else:
            db.session.commit()
            if created:
                flash(gettext("The %(period)s plan is saved (version %(version)s).",
                              period=month.label, version=saved.version))
            else:
                flash(gettext("The %(period)s plan is updated (version %(version)s).",
                              period=month.label, version=saved.version))
            return redirect(url_for("bonuses.plan", period=month.label))
    run = runs.run_of_month_or_none(month)
    return render_template("bonuses/plan.html", period=month, plan=row, form=form, errors=errors,
                           currencies=currencies, editable=current_user.has_role("manager"), run=run), status


def _plan_form(row: BonusPlan | None, currencies: list[str]) -> dict:
    if row is None:
        return {"currency": currencies[0] if len(currencies) == 1 else "", "team_per_visit": "", "rank_rewards": "",
                "min_calls": "0", "competition_reward": "", "competition_penalty": "", "cap": "", "version": ""}
    cur = row.currency
    return {"currency": cur, "team_per_visit": format_minor(row.team_per_visit, cur),
            "rank_rewards": "\n".join(format_minor(r, cur) for r in row.rank_rewards or []),
            "min_calls": str(row.min_calls), "competition_reward": format_minor(row.competition_reward, cur),
            "competition_penalty": format_minor(row.competition_penalty, cur),
            "cap": format_minor(row.cap, cur) if row.cap is not None else "", "version": str(row.version)}


def _plan_data(form: dict) -> dict:
    """The form's decimal amounts (major units, as people write them) → the
    plan body of SPEC §9 in minor units; every field's error at once."""
    errors: dict = {}
    currency = form["currency"].upper()
    data: dict = {"currency": currency or None}
    for name in MONEY_FIELDS:
        text = form[name]
        if text == "":
            data[name] = None if name == "cap" else 0
            continue
        try:
            data[name] = parse_amount(text, currency or "XXX")
        except AmountError as exc:
            # The amount parser's own message is English (core/money.py), only its start is reworded.
            errors[name] = str(exc).replace("not a decimal amount", "write an amount such as 15.00, not")
    rewards = []
    for i, text in enumerate(t.strip() for t in re.split(r"[;\n]+", form["rank_rewards"]) if t.strip()):
        try:
            rewards.append(parse_amount(text, currency or "XXX"))
        except AmountError as exc:
            errors["rank_rewards"] = gettext("place %(n)s: %(error)s", n=i + 1, error=str(exc))
    data["rank_rewards"] = rewards
    try:
        data["min_calls"] = int(form["min_calls"] or "0")
    except ValueError:
        errors["min_calls"] = gettext("a whole number of calls, e.g. 20")
    if errors:
        raise ValidationError(ngettext("%(num)s field needs attention", "%(num)s fields need attention", len(errors)),
                              details=errors)
    return data


@bp.post("/runs")
@roles_required("manager")
def compute():
    try:
        run = runs.compute_run(scoring.period_arg(request.form.get("period"), required=True), current_user.id)
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("bonuses.index"))
    db.session.commit()
    flash(ngettext("Run #%(id)s for %(period)s computed: %(num)s statement. Check it, then approve it.",
                   "Run #%(id)s for %(period)s computed: %(num)s statements. Check it, then approve it.",
                   run.lines_count, id=run.id, period=Period.of_key(run.month).label))
    return redirect(url_for("bonuses.run", run_id=run.id))


@bp.get("/runs/<int:run_id>")
@roles_required("manager", "payroll")
def run(run_id: int):
    row = runs.run_for(run_id, current_user)
    detail = runs.run_page(row)
    trail = runs.audit_trail(row.id) if current_user.has_role("manager") else []
    return render_template("bonuses/run.html", run=row, period=Period.of_key(row.month), trail=trail,
                           manager=current_user.has_role("manager"), payroll=current_user.has_role("payroll"),
                           month_over=Period.of_key(row.month).next <= clock.now().date(), **detail)


@bp.post("/runs/<int:run_id>/approve")
@roles_required("manager")
def approve(run_id: int):
    try:
        row = runs.approve(run_id, current_user.id)
    except AppError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("bonuses.run", run_id=run_id))
    db.session.commit()
    flash(gettext("Run #%(id)s approved: payroll can now export it.", id=row.id))
    return redirect(url_for("bonuses.run", run_id=run_id))


@bp.post("/runs/<int:run_id>/export.<fmt>")
@roles_required("payroll", "manager")
def export(run_id: int, fmt: str):
    try:
        row, data = runs.download(run_id, fmt, current_user, via="web")
        db.session.commit()
        return exports.response(row, data, fmt)
    except AppError as exc:
        db.session.rollback()
        if exc.status == 404:
            raise
        flash(_shown(exc), "error")
        return redirect(url_for("bonuses.run", run_id=run_id))


@bp.get("/runs/<int:run_id>/statements/<code>")
@roles_required("manager", "payroll", "agent")
def statement(run_id: int, code: str):
    st = runs.statement_for(run_id, code, current_user)
    return render_template("bonuses/statement.html", st=st, line=st["line"], run=st["run"],
                           own=code == current_user.employee_code,
                           staff_view=current_user.has_role("manager", "payroll"))


@bp.get("/me")
@roles_required("agent", "manager", "payroll")
def mine():
    return render_template("bonuses/mine.html", items=runs.own_statements(current_user.id))
