"""The reports managers act on: a campaign's funnel, the reasons for leaving
by quarter and store (the quarterly review of DOMAIN.md) and the offers
that work. Definitions in ``docs/reports.md``.

Every count reads *standing* outcomes only (``attribution.effective_calls``:
a corrected outcome is replaced by its correction) and the conversions of
SPEC §7, so each public function first brings the roll-ups up to date
(``scores.refresh``, which commits) unless told the caller already did.
Each is a fixed number of statements whatever the number of clients: one
grouped SELECT plus, at most, one for names.

The argument parsers turn query-string values into checked values or a
``ValidationError`` / ``NotFound`` naming the parameter, for the pages and
the API alike.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from sqlalchemy import String, and_, case, cast, func, null, select, union_all

from ..accounts.models import Staff, Store
from ..calls.models import Outcome
from ..calls.rules import REASON_LABELS
from ..campaigns.models import Campaign, CampaignItem
from ..campaigns.rules import OFFERS, REASON_CODES
from ..core.csvio import csv_lines
from ..core.errors import ValidationError
from ..core.msgid import N_
from ..core.sql import month_key
from ..extensions import db
from . import rules, scores
from .attribution import effective_calls
from .lift import holdout_of
from .models import Conversion
from .services import campaign_arg, check_params

STAGES = ("targeted", "attempted", "reached", "booked", "visited")
# Shown on the pages in their language (marked with N_, translated by the view or the template).
STAGE_LABELS = {"targeted": N_("Targeted"), "attempted": N_("Attempted"), "reached": N_("Reached"),
                "booked": N_("Booked"), "visited": N_("Visited")}
BY = ("store", "agent")
FORMATS = ("json", "csv")
NO_OFFER = "none"  # the offers report's row of reached clients who were offered nothing
NO_OFFER_LABEL = N_("No offer made")
__all__ = ["campaign_arg", "by_arg", "year_arg", "format_arg", "funnel", "reasons", "offers", "years",
           "csv_table", "csv_file", "build"]


# ------------------------------------------------------------------ arguments

def _invalid(param: str, problem: str) -> ValidationError:
    return ValidationError(f"{param}: {problem}", details={param: problem})


def by_arg(value: str | None) -> str:
    value = value or "store"
    if value not in BY:
        raise _invalid("by", "must be store or agent")
    return value


def year_arg(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[0-9]{4}", value) or not 2000 <= int(value) <= 2100:
        raise _invalid("year", "must be a year between 2000 and 2100, e.g. 2026")
    return int(value)


def format_arg(value: str | None) -> str:
    value = value or "json"
    if value not in FORMATS:
        raise _invalid("format", "must be json or csv")
    return value


def required_campaign(value) -> Campaign:
    camp = campaign_arg(value)
    if camp is None:
        raise _invalid("campaign", "is required: the funnel is for one campaign (its id)")
    return camp


def _share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


# ------------------------------------------------------------------ funnel

def _funnel_row(head: dict, counts: dict) -> dict:
    t = counts["targeted"]
    return {**head, **counts, "share": {s: _share(counts[s], t) for s in STAGES}}


def funnel(camp: Campaign, *, refresh: bool = True) -> dict:
    """targeted → attempted → reached → booked → visited for one campaign,
    by store and by agent (the agent holding the queue item now), with
    totals. One statement.

    targeted: queue items outside the holdout; attempted: items with a
    standing outcome; reached / booked: clients with a standing reached /
    ``booked`` outcome; visited: the campaign's conversions."""
    if refresh:
        scores.refresh()
    o = (select(Outcome.item_id,
                func.max(case((Outcome.reached, 1), else_=0)).label("reached"),
                func.max(case((Outcome.disposition == "booked", 1), else_=0)).label("booked"))
         .where(Outcome.campaign_id == camp.id, effective_calls())
         .group_by(Outcome.item_id).subquery("o"))
    keys = (Store.id, Store.code, Store.name, Staff.id, Staff.employee_code, Staff.name)
    rows = db.session.execute(
        select(*keys, func.count(CampaignItem.id), func.count(o.c.item_id), func.sum(o.c.reached),
               func.sum(o.c.booked), func.count(Conversion.id))
        .select_from(CampaignItem)
        .join(Store, Store.id == CampaignItem.store_id)
        .outerjoin(Staff, Staff.id == CampaignItem.staff_id)
        .outerjoin(o, o.c.item_id == CampaignItem.id)
        .outerjoin(Conversion, and_(Conversion.campaign_id == CampaignItem.campaign_id,
                                    Conversion.client_id == CampaignItem.client_id))
        .where(CampaignItem.campaign_id == camp.id, ~holdout_of(camp))
        .group_by(*keys)).all()
    zero = dict.fromkeys(STAGES, 0)
    stores: dict = defaultdict(lambda: dict(zero))
    agents: dict = defaultdict(lambda: dict(zero))
    totals = dict(zero)
    for sid, scode, sname, aid, acode, aname, *numbers in rows:
        for stage, n in zip(STAGES, numbers):
            n = int(n or 0)
            stores[(scode, sname)][stage] += n
            agents[(acode, aname)][stage] += n
            totals[stage] += n
    by_store = [_funnel_row({"store_code": c, "store_name": n}, v) for (c, n), v in sorted(stores.items())]
    by_agent = [_funnel_row({"employee_code": c, "name": n}, v)
                for (c, n), v in sorted(agents.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or ""))]
    return {"campaign": {"id": camp.id, "name": camp.name, "status": camp.status},
            "by_store": by_store, "by_agent": by_agent, "totals": _funnel_row({}, totals)}


# ------------------------------------------------------------------ reasons for leaving

def quarter_label(key: int) -> str:
    """20262 → "2026-Q2"."""
    return f"{key // 10:04d}-Q{key % 10}"


def _quarter_key(day_col):
    mk = month_key(day_col)
    return (mk // 100) * 10 + (mk % 100 + 2) // 3


def reasons(*, campaign: Campaign | None = None, year: int | None = None, refresh: bool = True) -> dict:
    """Reasons for leaving from standing outcomes with a reason code, by the
    quarter of the call's local date and the queue item's store.

    A client (queue item) who gives the same reason on several calls of a
    quarter counts once there; two different reasons count once each. A
    row's ``total`` is the sum of its reason counts. ``overall`` is per
    reason over everything shown, with its share of the total. One
    statement."""
    if refresh:
        scores.refresh()
    conds = [Outcome.reason.is_not(None), effective_calls()]
    if campaign is not None:
        conds.append(Outcome.campaign_id == campaign.id)
    if year is not None:
        conds += [Outcome.local_date >= date(year, 1, 1), Outcome.local_date < date(year + 1, 1, 1)]
    said = (select(Outcome.item_id, CampaignItem.store_id, _quarter_key(Outcome.local_date).label("quarter"),
                   Outcome.reason)
            .join(CampaignItem, CampaignItem.id == Outcome.item_id)
            .where(*conds).distinct().subquery("said"))
    rows = db.session.execute(
        select(Store.code, Store.name, said.c.quarter, said.c.reason, func.count())
        .select_from(said).join(Store, Store.id == said.c.store_id)
        .group_by(Store.code, Store.name, said.c.quarter, said.c.reason)).all()
    table: dict = defaultdict(lambda: dict.fromkeys(REASON_CODES, 0))
    overall = dict.fromkeys(REASON_CODES, 0)
    for code, name, quarter, reason, n in rows:
        if reason not in overall:  # a code retired since: still counted, under its own name
            overall[reason] = 0
        cell = table[(int(quarter), code, name)]
        cell[reason] = cell.get(reason, 0) + int(n)
        overall[reason] += int(n)
    codes = list(overall)
    total = sum(overall.values())
    out_rows = [{"quarter": quarter_label(q), "store_code": code, "store_name": name,
                 "counts": {r: counts.get(r, 0) for r in codes}, "total": sum(counts.values())}
                for (q, code, name), counts in sorted(table.items(), key=lambda kv: (-kv[0][0], kv[0][1]))]
    ranked = sorted(codes, key=lambda r: (-overall[r], codes.index(r)))
    return {"campaign": {"id": campaign.id, "name": campaign.name} if campaign else None, "year": year,
            "reasons": codes, "labels": {r: REASON_LABELS.get(r, r) for r in codes},
            "rows": out_rows, "total": total,
            "overall": [{"reason": r, "label": REASON_LABELS.get(r, r), "count": overall[r],
                         "share": _share(overall[r], total)} for r in ranked]}


def years() -> list[int]:
    """Years with any reason given, newest first (the year filter). One statement."""
    first, last = db.session.execute(
        select(func.min(Outcome.local_date), func.max(Outcome.local_date))
        .where(Outcome.reason.is_not(None))).one()
    if first is None:
        return []
    first, last = (d if isinstance(d, date) else date.fromisoformat(str(d)[:10]) for d in (first, last))
    return list(range(last.year, first.year - 1, -1))


# ------------------------------------------------------------------ offers

def offers(*, campaign: Campaign | None = None, refresh: bool = True) -> dict:
    """Per offer made on a standing reached outcome: clients offered
    (distinct campaign + client), how many of them booked (a standing
    ``booked`` outcome in that campaign) and converted (a conversion of that
    campaign), the conversion rate with its Wilson 95 % interval. Reached
    clients who were never offered anything make the ``none`` row, the
    baseline. A client offered two things counts under each. One statement.
    Offers in order of conversion rate (best first), the baseline last."""
    if refresh:
        scores.refresh()
    conds = [effective_calls()] + ([Outcome.campaign_id == campaign.id] if campaign is not None else [])
    reached = (select(Outcome.item_id, Outcome.campaign_id, Outcome.client_id, Outcome.offer)
               .where(Outcome.reached, *conds).subquery("r"))
    offered = (select(reached.c.item_id, reached.c.campaign_id, reached.c.client_id, reached.c.offer)
               .where(reached.c.offer.is_not(None)).distinct())
    nothing = (select(reached.c.item_id, reached.c.campaign_id, reached.c.client_id,
                      cast(null(), String(30)).label("offer"))
               .group_by(reached.c.item_id, reached.c.campaign_id, reached.c.client_id)
               .having(func.max(case((reached.c.offer.is_not(None), 1), else_=0)) == 0))
    u = union_all(offered, nothing).subquery("u")
    booked = (select(Outcome.item_id).where(Outcome.disposition == "booked", *conds)
              .distinct().subquery("b"))
    rows = db.session.execute(
        select(u.c.offer, func.count(), func.count(booked.c.item_id), func.count(Conversion.id))
        .select_from(u)
        .outerjoin(booked, booked.c.item_id == u.c.item_id)
        .outerjoin(Conversion, and_(Conversion.campaign_id == u.c.campaign_id,
                                    Conversion.client_id == u.c.client_id))
        .group_by(u.c.offer)).all()
    out, baseline = [], None
    for offer, n, b, x in rows:
        n, b, x = int(n), int(b or 0), int(x or 0)
        low, high = rules.wilson(x, n)
        row = {"offer": offer or NO_OFFER, "label": OFFERS.get(offer, offer) if offer else NO_OFFER_LABEL,
               "offered": n, "booked": b, "converted": x, "rate": _share(x, n),
               "low": round(low, 4), "high": round(high, 4)}
        if offer is None:
            baseline = row
        else:
            out.append(row)
    out.sort(key=lambda r: (-(r["rate"] or 0), -r["offered"], r["offer"]))
    return {"campaign": {"id": campaign.id, "name": campaign.name} if campaign else None,
            "rows": out + ([baseline] if baseline else []), "baseline": baseline,
            "reached": sum(r["offered"] for r in out) + (baseline["offered"] if baseline else 0)}


# ------------------------------------------------------------------ CSV

def csv_table(name: str, data: dict, *, by: str = "store") -> tuple[str, list[str], list[list]]:
    """(file name, header, rows) of a report's table: one row per table row
    (totals and the overall shares are left to the spreadsheet)."""
    camp = data.get("campaign")
    suffix = f"-campaign-{camp['id']}" if camp else ""
    if name == "funnel":
        head = ["store_code", "store_name"] if by == "store" else ["employee_code", "name"]
        rows = [[r[h] for h in head] + [r[s] for s in STAGES] for r in data["by_" + by]]
        return f"funnel-by-{by}{suffix}.csv", head + list(STAGES), rows
    if name == "reasons":
        head = ["quarter", "store_code", "store_name", *data["reasons"], "total"]
        rows = [[r["quarter"], r["store_code"], r["store_name"], *(r["counts"][c] for c in data["reasons"]),
                 r["total"]] for r in data["rows"]]
        year = f"-{data['year']}" if data.get("year") else ""
        return f"reasons{suffix}{year}.csv", head, rows
    if name == "offers":
        head = ["offer", "label", "offered", "booked", "converted", "conversion_rate", "ci_low", "ci_high"]
        rows = [[r["offer"], r["label"], r["offered"], r["booked"], r["converted"],
                 "" if r["rate"] is None else f"{r['rate']:.4f}", f"{r['low']:.4f}", f"{r['high']:.4f}"]
                for r in data["rows"]]
        return f"offers{suffix}.csv", head, rows
    raise ValueError(name)


def csv_file(name: str, data: dict, *, by: str = "store") -> tuple[str, str]:
    """(file name, UTF-8 CSV text with a BOM and a header row) of a report."""
    filename, head, rows = csv_table(name, data, by=by)
    return filename, "".join(csv_lines([head, *rows]))


# ------------------------------------------------------------------ one report from query parameters

PARAMS = {"funnel": ("campaign", "by"), "reasons": ("campaign", "year"), "offers": ("campaign",)}


def build(name: str, args, *, also: tuple[str, ...] = ()) -> tuple[dict, str]:
    """The report ``name`` for query parameters ``args`` (pages and API):
    (data, by). Every parameter is checked first; a bad one is a 422 naming
    it, an unknown campaign a 404."""
    check_params(args, PARAMS[name] + also)
    by = by_arg(args.get("by")) if name == "funnel" else "store"
    if name == "funnel":
        return funnel(required_campaign(args.get("campaign"))), by
    camp = campaign_arg(args.get("campaign"))
    if name == "reasons":
        return reasons(campaign=camp, year=year_arg(args.get("year"))), by
    return offers(campaign=camp), by
