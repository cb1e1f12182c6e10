"""The audit log page (managers and admins): read-only, filtered, paginated, and its CSV."""
from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from flask_babel import gettext, ngettext
from sqlalchemy import select

from ..accounts.auth import roles_required
from ..accounts.models import Staff
from ..core import clock, csvio
from ..core.i18n import translated
from ..core.models import AuditLog
from ..extensions import db
from . import queries

bp = Blueprint("audit", __name__)
ROLES = ("manager", "admin")
PER_PAGE = 50
CSV_PAGE = 1000


# Targets whose record has a page: "kind:key" → (endpoint, argument, key type).
_TARGET_PAGES = {
    "client": ("clients.card", "ref", str),
    "bonus_run": ("bonuses.run", "run_id", int),
    "bonus_plan": ("bonuses.plan", "period", str),
    "campaign": ("campaigns.show", "campaign_id", int),
    "message": ("outbox.show", "message_id", int),
    "job": ("imports.show", "job_id", str),
    "script": ("scripts.edit", "script_id", int),
}


def target_url(target: str | None) -> str | None:
    """The page of an entry's target, where it has one (an erased client's
    page still exists, under its new ref)."""
    kind, _, key = (target or "").partition(":")
    page = _TARGET_PAGES.get(kind)
    if page is None or not key:
        return None
    endpoint, arg, cast = page
    try:
        return url_for(endpoint, **{arg: cast(key)})
    except ValueError:
        return None


def _filters() -> tuple[queries.Filters, dict[str, str]]:
    """The filters of the query string, and what was wrong with any of them
    (a wrong one is left out and named on the page)."""
    args, errors = request.args, {}

    def text(name, limit):
        value = (args.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = ngettext("at most %(num)s character", "at most %(num)s characters", limit)
            return None
        return value or None

    def day(name):
        value = (args.get(name) or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors[name] = gettext("“%(value)s” is not a date: use YYYY-MM-DD", value=value[:40])
            return None

    area = (args.get("area") or "").strip() or None
    if area and area not in queries.AREAS:
        errors["area"] = gettext("no such area")
        area = None
    f = queries.Filters(area=area, actor=text("actor", 40), target=text("target", 200),
                        since=day("since"), until=day("until"))
    if f.since and f.until and f.since > f.until:
        errors["until"] = gettext("the last day comes before the first")
        f = queries.Filters(area=f.area, actor=f.actor, target=f.target, since=f.since)
    return f, errors


@bp.get("/audit")
@roles_required(*ROLES)
def index():
    f, errors = _filters()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(queries.entries(f, with_names=False), page=page, per_page=PER_PAGE, error_out=False)
    # The names of just the people on this page, in one statement.
    ids = {e.actor_id for e in pagination.items if e.actor_id}
    people = {sid: (code, name) for sid, code, name in db.session.execute(
        select(Staff.id, Staff.employee_code, Staff.name).where(Staff.id.in_(ids)))} if ids else {}
    return render_template("audit/index.html", pagination=pagination, filters=f.args(), f=f,
                           errors=errors, AREAS=translated(queries.AREAS), people=people,
                           target_url=target_url), (400 if errors else 200)


@bp.get("/audit.csv")
@roles_required(*ROLES)
def download():
    """Every entry the filters select, oldest first, streamed in pages; cells are
    neutralised so a spreadsheet never runs a formula that came in as data."""
    f, errors = _filters()
    if errors:
        return Response("; ".join(f"{k}: {v}" for k, v in errors.items()) + "\n", status=400,
                        mimetype="text/plain")
    base = queries.entries(f).order_by(None)

    def rows():
        yield ("id", "at_utc", "action", "actor_code", "actor_name", "target", "details")
        last = 0
        while True:
            page = db.session.execute(base.where(AuditLog.id > last).order_by(AuditLog.id).limit(CSV_PAGE)).all()
            if not page:
                return
            for row, code, name in page:
                yield (row.id, row.at.isoformat(sep=" ", timespec="seconds"), row.action, code or "",
                       name or "", row.target or "",
                       json.dumps(row.details, ensure_ascii=False, sort_keys=True) if row.details else "")
            last = page[-1][0].id

    stamp = clock.utcnow_naive().date().isoformat()
    return Response(stream_with_context(csvio.csv_lines(rows())), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-log-{stamp}.csv"'})
