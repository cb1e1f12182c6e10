"""Who is dormant (SPEC §3), computed set-based: one SQL statement for every client.

``client_segments`` is the building block: a ``Select`` with one row per client
that later features (campaign eligibility, assignment) join as a subquery. The
other functions here read through it for the CLI, the API and the dormancy pages;
each runs a fixed number of statements however many clients there are.

Dates: every day count uses ``visits.local_date`` (the date in the visit's store
time zone) and the as-of date, converted to whole day numbers with the portable
``day_number`` SQL function; ``days_since`` = as_of − last completed visit date.
"""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import BigInteger, Date, Integer, String, and_, case, cast, func, literal, null, or_, select, union_all
from sqlalchemy.sql import Select

from ..accounts.models import Staff, Store
from ..core import clock, collation
from ..core.errors import ValidationError
from ..core.sql import among, day_number
from ..extensions import db
from . import rules
from .models import Client, ClientErasure, Contact, Visit

EPOCH = date(1970, 1, 1)
PER_PAGE = 50


# ------------------------------------------------------------------ as-of dates

def store_local_dates() -> dict[int, date]:
    """{store_id: today in that store's time zone}, from the one clock."""
    now = clock.now()
    rows = db.session.execute(select(Store.id, Store.timezone)).all()
    return {sid: clock.local_today(tz, now) for sid, tz in rows}


class _AsOf:
    """The as-of date of a client's row as SQL: one literal, or a CASE on the
    client's store when the stores' local todays differ (stores are few)."""

    def __init__(self, as_of: date | None):
        self.fixed, self.by_store = as_of, None
        if as_of is None:
            by_store = store_local_dates()
            dates = set(by_store.values())
            if len(dates) > 1:
                self.by_store = by_store
                # A store created after the lookup gets the latest date.
                self.fallback = max(dates)
            else:
                # Every store is on the same date (or there is none): no CASE, no join.
                self.fixed = dates.pop() if dates else clock.now().date()

    @property
    def needs_client(self) -> bool:
        return self.fixed is None

    def date_for(self, store_id_col):
        if self.fixed is not None:
            return literal(self.fixed, Date)
        return case({sid: literal(d, Date) for sid, d in self.by_store.items()},
                    value=store_id_col, else_=literal(self.fallback, Date))

    def day_for(self, store_id_col):
        if self.fixed is not None:
            return literal((self.fixed - EPOCH).days, Integer)
        return case({sid: literal((d - EPOCH).days, Integer) for sid, d in self.by_store.items()},
                    value=store_id_col, else_=literal((self.fallback - EPOCH).days, Integer))


# ------------------------------------------------------------------ the segments

def client_segments(as_of: date | None, *, store_ids=None, client_ids=None,
                    with_overdue: bool = True) -> Select:
    """One row per client: client_id, store_id, last_visit_date, days_since,
    completed_visits, lifetime_spend, no_shows, bucket, tier, value_class,
    banned, overdue — in ONE statement (CTEs and window functions).

    Guarantees (SPEC §3):

    * ``as_of`` is a date for every client, or None for "today in the client's
      store time zone" (each store's local date from the one clock; building
      the Select then reads the stores' time zones once). Only visits with
      ``local_date <= as_of`` count.
    * last visit = latest ``completed`` visit; ``days_since`` is whole days;
      ``bucket`` from ``BUCKET_BOUNDS`` (``never`` without a completed visit);
      ``tier`` regular ≥ 2, one_time = 1, never = 0 completed visits.
    * ``value_class``: among clients with a completed visit, ranked by lifetime
      completed spend (NULL amounts count 0) with ``rank()`` so tied clients
      share the best rank: A iff rank ≤ ceil(20 % of n), B iff rank ≤ ceil(50 %
      of n), else C (``VALUE_CLASS_SHARES``, integer arithmetic). Ties therefore
      go to the higher class. The ranking is partitioned by the store currency
      (JPY and PLN spends are not comparable); for a one-currency chain this is
      exactly the chain-wide rule. NULL for clients without a completed visit.
      ``store_ids``/``client_ids`` filter the result only, never the ranking,
      so a client's class does not depend on the filter.
    * ``no_shows`` counts every ``no_show`` visit; ``banned`` when the no-shows
      after ``clients.ban_lifted_at`` (all of them if never lifted) reach
      ``NO_SHOW_BAN``, or a manager banned the client (``manual_ban``). The
      lift and the manual ban are read as they are now, whatever ``as_of``.
    * ``overdue``: bucket active, ≥ 3 completed visits and days_since > 1.5 ×
      the median gap between the client's consecutive distinct visit days
      (same-day repeats add no gap), compared in integers. With
      ``with_overdue=False`` the median is not computed and ``overdue`` is
      always false: campaign eligibility needs no early warning, and the median
      is the costliest part over millions of visits.
    """
    cfg = current_app.config
    bounds = tuple(cfg["BUCKET_BOUNDS"])
    share_a, share_b = cfg["VALUE_CLASS_SHARES"]
    ban_at = int(cfg["NO_SHOW_BAN"])
    when = _AsOf(as_of)
    completed = Visit.status == "completed"

    # 1. Per-client totals of the visits up to as_of: one pass over visits.
    agg_q = select(
        Visit.client_id.label("client_id"),
        func.max(case((completed, Visit.local_date), else_=None)).label("last_visit_date"),
        func.sum(case((completed, 1), else_=0)).label("completed_visits"),
        # PostgreSQL sums bigint as numeric; the contract is integer minor units.
        cast(func.sum(case((completed, func.coalesce(Visit.amount, 0)), else_=0)), BigInteger)
        .label("lifetime_spend"),
        func.sum(case((Visit.status == "no_show", 1), else_=0)).label("no_shows"),
    )
    if when.needs_client:
        agg_q = agg_q.join(Client, Client.id == Visit.client_id)
        agg_q = agg_q.where(Visit.local_date <= when.date_for(Client.store_id))
    else:
        agg_q = agg_q.where(Visit.local_date <= when.date_for(None))
    agg = agg_q.group_by(Visit.client_id).cte("seg_agg")

    # Per-client filters may narrow the per-client work below (never the ranking).
    def narrow(q, client_col):
        if client_ids is not None:
            q = q.where(client_col.in_(list(client_ids)))
        if store_ids is not None:
            q = q.where(Client.store_id.in_(list(store_ids)))
        return q

    # 2. No-shows after a ban lift: only the few clients with a lift, via the index.
    lifted_q = (
        select(Client.id.label("client_id"), func.count(Visit.id).label("no_shows_after"))
        .join(Visit, and_(Visit.client_id == Client.id, Visit.status == "no_show",
                          Visit.visited_at > Client.ban_lifted_at,
                          Visit.local_date <= when.date_for(Client.store_id)))
        .where(Client.ban_lifted_at.is_not(None))
        .group_by(Client.id)
    )
    lifted = narrow(lifted_q, Client.id).subquery("seg_lifted")

    # 3. Median gap, only for the clients who can be overdue (active, ≥ 3 visits).
    as_of_day_c = when.day_for(Client.store_id)
    median = _median_gaps(agg, when, bounds, narrow, store_ids) if with_overdue else None

    # 4. One row per client, ranked by spend over the whole chain (per currency).
    completed_n = func.coalesce(agg.c.completed_visits, 0)
    spend = func.coalesce(agg.c.lifetime_spend, 0)
    has_visit = case((completed_n > 0, 1), else_=0)
    mid = (median.c.mid_n, median.c.mid_sum) if median is not None else (
        literal(0, Integer).label("mid_n"), literal(0, Integer).label("mid_sum"))
    base = (
        select(Client.id.label("client_id"), Client.store_id.label("store_id"),
               agg.c.last_visit_date.label("last_visit_date"),
               (as_of_day_c - day_number(agg.c.last_visit_date)).label("days_since"),
               completed_n.label("completed_visits"),
               spend.label("lifetime_spend"),
               func.coalesce(agg.c.no_shows, 0).label("no_shows"),
               case((Client.ban_lifted_at.is_(None), func.coalesce(agg.c.no_shows, 0)),
                    else_=func.coalesce(lifted.c.no_shows_after, 0)).label("counted_no_shows"),
               Client.manual_ban.label("manual_ban"),
               *mid,
               func.rank().over(partition_by=(Store.currency, has_visit),
                                order_by=spend.desc()).label("spend_rank"),
               func.count().over(partition_by=(Store.currency, has_visit)).label("ranked_n"))
        .join(Store, Store.id == Client.store_id)
        .outerjoin(agg, agg.c.client_id == Client.id)
        .outerjoin(lifted, lifted.c.client_id == Client.id)
    )
    if median is not None:
        base = base.outerjoin(median, median.c.client_id == Client.id)
    base = base.subquery("seg_base")
    return _classified(base, bounds, share_a, share_b, ban_at, store_ids, client_ids)


def _median_gaps(agg, when, bounds, narrow, store_ids):
    """Per client: the middle one or two gaps between distinct visit days
    (``mid_sum``, ``mid_n``), only for active clients with ≥ 3 visits."""
    completed = Visit.status == "completed"
    as_of_day_c = when.day_for(Client.store_id)
    days_d = day_number(Visit.local_date)
    candidates_q = (
        select(Visit.client_id.label("client_id"),
               (days_d - func.lag(days_d).over(partition_by=Visit.client_id,
                                               order_by=Visit.local_date)).label("gap"))
        .join(agg, agg.c.client_id == Visit.client_id)
        .where(completed, Visit.local_date <= when.date_for(Client.store_id),
               agg.c.completed_visits >= 3,
               as_of_day_c - day_number(agg.c.last_visit_date) < bounds[0])
    )
    if when.needs_client or store_ids is not None:
        candidates_q = candidates_q.join(Client, Client.id == Visit.client_id)
    gaps = narrow(candidates_q, Visit.client_id).subquery("seg_gaps")
    ranked = (
        select(gaps.c.client_id, gaps.c.gap,
               func.row_number().over(partition_by=gaps.c.client_id, order_by=gaps.c.gap).label("rn"),
               func.count().over(partition_by=gaps.c.client_id).label("cnt"))
        .where(gaps.c.gap > 0)
        .subquery("seg_ranked")
    )
    # The middle one (odd count) or two (even count): 2·rn in [cnt, cnt + 2].
    median = (
        select(ranked.c.client_id,
               func.sum(ranked.c.gap).label("mid_sum"),
               func.count().label("mid_n"))
        .where(2 * ranked.c.rn >= ranked.c.cnt, 2 * ranked.c.rn <= ranked.c.cnt + 2)
        .group_by(ranked.c.client_id)
        .subquery("seg_median")
    )
    return median


def _classified(base, bounds, share_a, share_b, ban_at, store_ids, client_ids) -> Select:
    """Buckets, tiers, value classes and flags over the per-client base row."""
    b = base.c
    days_since = b.days_since
    bucket = case(
        (b.last_visit_date.is_(None), literal("never", String)),
        (days_since < bounds[0], literal("active", String)),
        (days_since < bounds[1], literal("d1", String)),
        (days_since < bounds[2], literal("d2", String)),
        (days_since < bounds[3], literal("d3", String)),
        else_=literal("d3plus", String))
    tier = case((b.completed_visits >= 2, literal("regular", String)),
                (b.completed_visits == 1, literal("one_time", String)),
                else_=literal("never", String))
    # rank <= ceil(share % of n)  <=>  100·(rank − 1) < share·n
    value_class = case(
        (b.completed_visits == 0, null()),
        (100 * (b.spend_rank - 1) < share_a * b.ranked_n, literal("A", String)),
        (100 * (b.spend_rank - 1) < share_b * b.ranked_n, literal("B", String)),
        else_=literal("C", String))
    # days_since > 1.5 × (mid_sum / mid_n)  <=>  2·mid_n·days_since > 3·mid_sum
    overdue = case((and_(b.last_visit_date.is_not(None), days_since < bounds[0],
                         b.completed_visits >= 3, b.mid_n > 0,
                         2 * b.mid_n * days_since > 3 * b.mid_sum), True),
                   else_=False)
    banned = case((or_(b.counted_no_shows >= ban_at, b.manual_ban), True), else_=False)

    out = select(b.client_id, b.store_id, b.last_visit_date, b.days_since, b.completed_visits,
                 b.lifetime_spend, b.no_shows, bucket.label("bucket"), tier.label("tier"),
                 value_class.label("value_class"), banned.label("banned"), overdue.label("overdue"))
    if client_ids is not None:
        out = out.where(b.client_id.in_(list(client_ids)))
    if store_ids is not None:
        out = out.where(b.store_id.in_(list(store_ids)))
    return out


# ------------------------------------------------------------------ counts

def store_ids_for(store_code: str | None) -> list[int] | None:
    """None for every store; [id] for a known code; ValidationError (422) otherwise."""
    if not store_code:
        return None
    sid = db.session.scalar(select(Store.id).where(Store.code == store_code))
    if sid is None:
        raise ValidationError(f"unknown store code {store_code!r}")
    return [sid]


def segment_counts(as_of: date | None, store_code: str | None = None) -> list[dict]:
    """[{bucket, tier, clients}] in bucket order (active … d3plus, never) then
    tier order (regular, one_time, never); only non-empty combinations.

    Raises ValidationError for an unknown store code.
    """
    seg = client_segments(as_of, store_ids=store_ids_for(store_code)).subquery()
    rows = db.session.execute(
        select(seg.c.bucket, seg.c.tier, func.count().label("clients"))
        .group_by(seg.c.bucket, seg.c.tier)).all()
    out = [{"bucket": b, "tier": t, "clients": int(n)} for b, t, n in rows if n]
    return sorted(out, key=lambda r: rules.order_key(r["bucket"], r["tier"]))


def _cells(seg) -> Select:
    """store_id × bucket × tier over ``seg``: clients, lifetime spend at stake
    (minor units of the store currency), how many are overdue or banned."""
    return (select(seg.c.store_id, seg.c.bucket, seg.c.tier,
                   func.count().label("clients"),
                   cast(func.sum(seg.c.lifetime_spend), BigInteger).label("spend"),
                   func.sum(case((seg.c.overdue, 1), else_=0)).label("overdue_n"),
                   func.sum(case((seg.c.banned, 1), else_=0)).label("banned_n"))
            .group_by(seg.c.store_id, seg.c.bucket, seg.c.tier))


def segment_table(as_of: date | None, *, store_ids=None) -> Select:
    """The per-store table of the overview (see ``_cells``) as a Select."""
    return _cells(client_segments(as_of, store_ids=store_ids).subquery("seg"))


def stores() -> dict[int, dict]:
    """{store_id: {code, name, timezone, currency}} ordered by code."""
    rows = db.session.execute(select(Store.id, Store.code, Store.name, Store.timezone, Store.currency)
                              .order_by(Store.code)).all()
    return {r.id: {"code": r.code, "name": r.name, "timezone": r.timezone, "currency": r.currency}
            for r in rows}


def _cell_dicts(rows) -> list[dict]:
    return [{"store_id": r["store_id"], "bucket": r["bucket"], "tier": r["tier"], "clients": r["clients"],
             "spend": r["spend"], "overdue": r["overdue_n"], "banned": r["banned_n"]} for r in rows]


def overview(as_of: date | None, store_code: str | None = None) -> rules.Overview:
    """The dormancy overview: bucket × tier totals (spend per currency), per
    store, overdue and banned counts."""
    ids = store_ids_for(store_code)
    shown = {sid: s for sid, s in stores().items() if ids is None or sid in ids}
    rows = db.session.execute(segment_table(as_of, store_ids=ids)).mappings().all()
    return rules.rollup(_cell_dicts(rows), shown)


# ------------------------------------------------------------------ lists

def _list_rows(seg, *, bucket=None, tier=None, flag=None, name=None, by_name_in=None) -> Select:
    """Clients of ``seg`` with their display columns, ``total`` (count over the
    list) and ``pos`` (1-based place in the list order).

    Order: banned lists by no-shows desc first; then value class (A, B, C,
    none — classes compare across currencies, raw amounts do not), lifetime
    spend desc, client ref. ``by_name_in`` (a language code) orders by last
    and first name in that language's collation instead (core/collation.py).
    ``name`` keeps the clients whose name holds it, in any script and case.
    """
    if bucket is not None and bucket not in rules.BUCKETS:
        raise ValidationError(f"unknown bucket {bucket!r}")
    if tier is not None and tier not in rules.TIERS:
        raise ValidationError(f"unknown tier {tier!r}")
    if flag is not None and flag not in rules.FLAGS:
        raise ValidationError(f"unknown list {flag!r}")
    if by_name_in:
        order = (collation.sort_key(func.coalesce(Client.last_name, ""), by_name_in, db.session),
                 collation.sort_key(func.coalesce(Client.first_name, ""), by_name_in, db.session), Client.ref)
    else:
        order = ((seg.c.no_shows.desc(),) if flag == "banned" else ()) + (
            case((seg.c.value_class.is_(None), 1), else_=0), seg.c.value_class,
            seg.c.lifetime_spend.desc(), Client.ref)
    q = (select(Client.ref, Client.first_name, Client.last_name, Client.language,
                Store.code.label("store_code"), Store.currency, *seg.c,
                func.count().over().label("total"),
                func.row_number(type_=Integer).over(order_by=order).label("pos"))
         .join(seg, seg.c.client_id == Client.id)
         .join(Store, Store.id == Client.store_id))
    if bucket:
        q = q.where(seg.c.bucket == bucket)
    if tier:
        q = q.where(seg.c.tier == tier)
    if flag:
        q = q.where(seg.c.overdue if flag == "overdue" else seg.c.banned)
    if name and name.strip():
        dialect = db.session.get_bind().dialect.name
        full = func.coalesce(Client.first_name, "") + " " + func.coalesce(Client.last_name, "")
        reverse = func.coalesce(Client.last_name, "") + " " + func.coalesce(Client.first_name, "")
        # "Anna Smirnova", "Smirnova Anna" and the Japanese order without a space all match.
        joined = func.coalesce(Client.last_name, "") + func.coalesce(Client.first_name, "")
        q = q.where(or_(collation.contains(full, name, dialect), collation.contains(reverse, name, dialect),
                        collation.contains(joined, name, dialect)))
    return q


def _window(rows: Select, page: int, per_page: int) -> Select:
    listed = rows.subquery("listed")
    first = (page - 1) * per_page + 1
    return select(listed).where(listed.c.pos.between(first, first + per_page - 1))


def segment_clients(as_of: date | None, *, bucket: str | None = None, tier: str | None = None,
                    store_ids=None, flag: str | None = None, page: int = 1,
                    per_page: int = PER_PAGE, name: str | None = None,
                    by_name_in: str | None = None) -> rules.Page:
    """The clients behind a number of the overview, one page at a time.

    Filters: ``bucket``, ``tier``, ``store_ids``, and ``flag`` (``overdue`` or
    ``banned``); the order is ``_list_rows``'s. Items and the total come from
    one statement (``count(*) OVER ()``). ValidationError for an unknown value.
    """
    page = max(1, int(page))
    rows = _list_rows(client_segments(as_of, store_ids=store_ids).subquery("seg"),
                      bucket=bucket, tier=tier, flag=flag, name=name, by_name_in=by_name_in)
    items = db.session.execute(_window(rows, page, per_page).order_by("pos")).mappings().all()
    total = int(items[0]["total"]) if items else 0
    if not items and page > 1:
        # Past the end (rare): count, so the pager can lead back.
        total = db.session.scalar(select(func.count()).select_from(rows.subquery()))
    return rules.Page([dict(r) for r in items], page, per_page, total)


def dormancy_page(as_of: date | None, *, store_ids=None, overdue_page: int = 1,
                  banned_page: int = 1, per_page: int = PER_PAGE):
    """The overview plus one page of the overdue and of the banned list.

    The segments are computed once: the cells and both list pages are one
    ``UNION ALL`` over a single CTE (plus one read of the stores, and one more
    for the stores' time zones when ``as_of`` is None). Returns
    (Overview, overdue Page, banned Page).
    """
    shown = {sid: s for sid, s in stores().items() if store_ids is None or sid in store_ids}
    seg = client_segments(as_of, store_ids=store_ids).cte("seg")
    cells = _cells(seg).subquery("cells")
    lists = {flag: _window(_list_rows(seg, flag=flag), page, per_page).subquery(f"list_{flag}")
             for flag, page in (("overdue", max(1, overdue_page)), ("banned", max(1, banned_page)))}
    # One column set for every branch; what a branch lacks is a typed NULL.
    shape = {**{c.name: c.type for c in cells.c}, **{c.name: c.type for c in lists["overdue"].c}}

    def branch(kind, sub):
        return select(literal(kind, String).label("kind"),
                      *[(sub.c[name] if name in sub.c else cast(null(), type_)).label(name)
                        for name, type_ in shape.items()])

    union = branch("cell", cells).union_all(*(branch(flag, sub) for flag, sub in lists.items()))
    rows = db.session.execute(union).mappings().all()
    ov = rules.rollup(_cell_dicts([r for r in rows if r["kind"] == "cell"]), shown)
    pages = []
    for flag, page, count in (("overdue", overdue_page, ov.overdue), ("banned", banned_page, ov.banned)):
        items = sorted(({k: r[k] for k in lists[flag].c.keys()} for r in rows if r["kind"] == flag),
                       key=lambda r: r["pos"])
        pages.append(rules.Page(items, max(1, page), per_page, count))
    return ov, pages[0], pages[1]


# ------------------------------------------------------------------ the card

def client_card(ref: str, as_of: date | None = None) -> dict | None:
    """Everything the client card shows (SPEC §2.1 fields, §6 card, §3 segment), or None.

    ``as_of`` None means today in the client's store time zone. ``contacts``
    lists every earlier contact (calls and messages) with its outcome, newest
    first. Money is integer minor units
    of the store currency. ``erased`` says when, by whom and why the
    client's personal data was erased (None if it was not). Five statements.
    """
    row = db.session.execute(select(Client, Store).join(Store, Store.id == Client.store_id)
                             .where(Client.ref == ref)).first()
    if row is None:
        return None
    c, store = row
    effective = as_of or clock.local_today(store.timezone)
    seg = db.session.execute(client_segments(effective, client_ids=[c.id])).mappings().one()
    last = db.session.execute(
        select(Visit.local_date, Visit.service, Visit.amount, Visit.served_by,
               Staff.name.label("staff_name"))
        .outerjoin(Staff, Staff.employee_code == Visit.served_by)
        .where(Visit.client_id == c.id, Visit.status == "completed", Visit.local_date <= effective)
        .order_by(Visit.local_date.desc(), Visit.visited_at.desc(), Visit.id.desc())
        .limit(1)).first()
    return {
        "client_ref": c.ref, "first_name": c.first_name, "last_name": c.last_name, "name": c.name,
        "phone": c.phone, "phone_callable": bool(c.phone_callable), "email": c.email,
        "language": c.language, "store_code": store.code,
        "store": {"code": store.code, "name": store.name, "timezone": store.timezone,
                  "currency": store.currency},
        "consent_call": bool(c.consent_call), "consent_sms": bool(c.consent_sms),
        "consent_email": bool(c.consent_email), "consent_post": bool(c.consent_post),
        "do_not_contact": bool(c.do_not_contact), "notes": c.notes,
        "ban_lifted_at": c.ban_lifted_at,
        "as_of": effective,
        "last_visit": None if last is None else {
            "date": last.local_date, "service": last.service, "amount": last.amount,
            "served_by": last.staff_name or last.served_by, "served_by_code": last.served_by,
        },
        "visits": int(seg["completed_visits"]), "spend": int(seg["lifetime_spend"]),
        "currency": store.currency,
        "no_shows": int(seg["no_shows"]), "bucket": seg["bucket"], "tier": seg["tier"],
        "value_class": seg["value_class"], "days_since": seg["days_since"],
        "banned": bool(seg["banned"]), "overdue": bool(seg["overdue"]),
        "erased": erasure_of(c.id),
        "contacts": [dict(r) for r in db.session.execute(
            select(Contact.at, Contact.channel, Contact.reached, Contact.disposition, Contact.reason,
                   Staff.name.label("staff_name"))
            .outerjoin(Staff, Staff.id == Contact.staff_id)
            .where(Contact.client_id == c.id).order_by(Contact.at.desc(), Contact.id.desc())).mappings()],
    }


# ------------------------------------------------------------------ erased clients (docs/privacy.md)

def erasure_of(client_id: int) -> dict | None:
    """When, by whom (name and employee code; None for the CLI), how and why a
    client's personal data was erased, or None."""
    row = db.session.execute(
        select(ClientErasure, Staff.name, Staff.employee_code)
        .outerjoin(Staff, Staff.id == ClientErasure.erased_by)
        .where(ClientErasure.client_id == client_id)).first()
    if row is None:
        return None
    e, name, code = row
    return {"at": e.erased_at, "by": name, "by_code": code, "via": e.via, "reason": e.reason}


def erased_among(refs: list[str]) -> dict[str, object]:
    """Which of these client refs belong to an erased client, with when it was
    erased: a ref the client had before (found by its digest) or the
    ``ERASED-<id>`` token that replaced it. One statement per 5,000 refs."""
    refs = list({r for r in refs if r})
    out: dict[str, object] = {}
    for i in range(0, len(refs), 5000):
        part = refs[i:i + 5000]
        digests = {rules.erased_ref_digest(r): r for r in part}
        stmt = union_all(
            select(ClientErasure.ref_digest.label("key"), ClientErasure.erased_at)
            .where(among(ClientErasure.ref_digest, list(digests))),
            select(Client.ref.label("key"), ClientErasure.erased_at)
            .join(ClientErasure, ClientErasure.client_id == Client.id)
            .where(among(Client.ref, part)))
        for key, at in db.session.execute(stmt):
            out[digests.get(key, key)] = at
    return out
