"""Assignment (SPEC §5): which eligible clients are placed, and with whom.

Set-based: a run is a fixed handful of statements whatever the number of
clients (the tests count them). Python only ever sees per-language and
per-agent numbers — a few hundred values — never a row per client.

1. **Launch** (the campaign has no items yet): the contact policy
   (``policy.assess``) is evaluated once into a temporary table with each
   client's priority and holdout draw.
2. **Re-run** (items exist): queued items nobody has touched yet go back to
   the pool where an agent's quota was lowered (the lowest priority first),
   and all of an absent agent's when moving absent agents' work.
3. **Which**: per language, the clients placed are a prefix of that
   language's priority order, as long as the agents who speak it have quota
   (``capacity.greedy_by_priority``: the matroid greedy over languages, exact
   when agents speak several languages). So a client left in the pool never
   outranks a placed client of the same language.
4. **Who**: each agent's remaining quota is split between their languages so
   that every agent carries the same share of their quota as far as the
   languages allow (``capacity.balanced_split``). Within a language, clients of
   a store go to that store's agents first (an evenly spread sample of the
   store's list, so the A/B/C mix is kept), then the rest are dealt in
   priority order over interleaved slots — slot k of an agent with capacity
   c sits at (k − ½)/c — so every agent's A/B/C mix follows their quota.

The run never exceeds a quota, never places a client twice (a unique
constraint backs it) and leaves what it cannot place in the pool with the
reason. Running it again with nothing changed places nothing.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from flask import current_app
from sqlalchemy import (Boolean, Column, Float, Integer, MetaData, String, Table, and_, case, cast,
                        func, insert, literal, null, select, update)

from ..accounts.models import Staff, StaffLanguage
from ..core import clock
from ..core.errors import Conflict, NotFound
from ..extensions import db
from ..scoring import marks
from . import capacity, policy, queries
from .models import Campaign, CampaignItem, Quota

HIST_BINS = 2048

_temp = MetaData()
ELIG = Table("wb_elig", _temp,
             Column("client_id", Integer, primary_key=True), Column("client_ref", String(64)),
             Column("store_id", Integer), Column("language", String(16)),
             Column("value_class", String(1)), Column("days_since", Integer),
             Column("wronged", Boolean), Column("holdout", Integer), Column("priority", Integer),
             prefixes=["TEMPORARY"])
CAPS = Table("wb_caps", _temp,
             Column("staff_id", Integer), Column("language", String(16)), Column("store_id", Integer),
             Column("cap", Integer), prefixes=["TEMPORARY"])
NEED = Table("wb_need", _temp, Column("language", String(16)), Column("n", Integer),
             prefixes=["TEMPORARY"])
SLOTS = Table("wb_slots", _temp,
              Column("staff_id", Integer), Column("language", String(16)), Column("store_id", Integer),
              Column("cap", Integer), Column("k", Integer), Column("own_rank", Integer),
              prefixes=["TEMPORARY"])
PLACED = Table("wb_placed", _temp,
               Column("key", Integer), Column("language", String(16)), Column("store_id", Integer),
               Column("priority", Integer), Column("pick_rank", Integer), prefixes=["TEMPORARY"])
REST = Table("wb_rest", _temp, Column("key", Integer), Column("language", String(16)),
             Column("r", Integer), prefixes=["TEMPORARY"])
FREE = Table("wb_free", _temp, Column("staff_id", Integer), Column("language", String(16)),
             Column("r", Integer), prefixes=["TEMPORARY"])
MATCH = Table("wb_match", _temp, Column("key", Integer, primary_key=True), Column("staff_id", Integer),
              Column("language", String(16)), prefixes=["TEMPORARY"])
TEMPS = (ELIG, CAPS, NEED, SLOTS, PLACED, REST, FREE, MATCH)


def _reset_temps(conn) -> None:
    for t in TEMPS:
        t.drop(conn, checkfirst=True)
        t.create(conn)


def _drop_temps(conn) -> None:
    for t in TEMPS:
        t.drop(conn, checkfirst=True)


# ------------------------------------------------------------------ agents

def _agents(campaign_id: int) -> list[dict]:
    """Agents with a quota row: target, absent, store, languages."""
    rows = db.session.execute(
        select(Quota.staff_id, Quota.target, Quota.absent, Staff.store_id)
        .join(Staff, Staff.id == Quota.staff_id)
        .where(Quota.campaign_id == campaign_id)).mappings().all()
    langs = defaultdict(list)
    for sid, lang in db.session.execute(
            select(StaffLanguage.staff_id, StaffLanguage.language)
            .join(Quota, and_(Quota.staff_id == StaffLanguage.staff_id, Quota.campaign_id == campaign_id))):
        langs[sid].append(lang)
    return [{**dict(r), "languages": sorted(langs[r["staff_id"]])} for r in rows]


def _return_excess(campaign_id: int, agents: list[dict], move_absent: bool) -> int:
    """Untouched queued items beyond an agent's quota (all of an absent
    agent's when ``move_absent``) go back to the pool, lowest priority
    first; so do those of agents whose quota row is gone. One UPDATE."""
    loads = dict(db.session.execute(
        select(CampaignItem.staff_id, func.count())
        .where(CampaignItem.campaign_id == campaign_id, CampaignItem.staff_id.is_not(None))
        .group_by(CampaignItem.staff_id)).all())
    allowed = {a["staff_id"]: (0 if (a["absent"] and move_absent) else a["target"]) for a in agents}
    excess = {sid: n - allowed.get(sid, 0) for sid, n in loads.items() if n > allowed.get(sid, 0)}
    if not excess:
        return 0
    untouched = (select(CampaignItem.id, CampaignItem.staff_id,
                        func.row_number().over(partition_by=CampaignItem.staff_id,
                                               order_by=CampaignItem.priority.desc()).label("rn"))
                 .where(CampaignItem.campaign_id == campaign_id, CampaignItem.status == "queued",
                        CampaignItem.attempts == 0, CampaignItem.claimed_at.is_(None),
                        CampaignItem.staff_id.in_(list(excess)))
                 .subquery())
    limit = case(excess, value=untouched.c.staff_id, else_=0)
    ids = select(untouched.c.id).where(untouched.c.rn <= limit)
    res = db.session.execute(
        update(CampaignItem).where(CampaignItem.id.in_(ids))
        .values(staff_id=None, status="pool", assigned_at=None)
        .execution_options(synchronize_session=False))
    return res.rowcount or 0


# ------------------------------------------------------------------ which

def _demand(cand) -> dict:
    rows = db.session.execute(select(cand.c.language, func.count()).group_by(cand.c.language)).all()
    return {lang: int(n) for lang, n in rows}


def _placed_counts(cand, caps: dict, speaks: dict, demand: dict) -> dict:
    """{language: n placed} by SPEC §5 "which" (see ``capacity.greedy_by_priority``)."""
    known = {lang: n for lang, n in demand.items() if lang is not None}
    if capacity.feasible(caps, speaks, known):
        return known
    total = sum(known.values())
    span = db.session.scalar(select(func.max(cand.c.priority)))
    size = max(1, -(-int(span or 1) // HIST_BINS))
    hist = db.session.execute(
        select(((cand.c.priority - 1) // size).label("bin"), cand.c.language, func.count())
        .where(cand.c.language.is_not(None))
        .group_by("bin", cand.c.language)).all()
    bins = [dict() for _ in range(HIST_BINS)]
    for b, lang, n in hist:
        bins[int(b)][lang] = int(n)

    def exact(i: int) -> list[str]:
        return list(db.session.scalars(
            select(cand.c.language)
            .where(cand.c.language.is_not(None), cand.c.priority > i * size,
                   cand.c.priority <= (i + 1) * size)
            .order_by(cand.c.priority)))

    placed = capacity.greedy_by_priority(caps, speaks, bins, exact)
    assert sum(placed.values()) <= total
    return placed


# ------------------------------------------------------------------ who

def _analyze(conn, *tables) -> None:
    """Fresh statistics for temporary tables (PostgreSQL never auto-analyses
    them; without them it plans joins of 10⁶ rows as if they held a few)."""
    if conn.dialect.name == "postgresql":
        for t in tables:
            conn.exec_driver_sql(f"ANALYZE {t.name}")


def _slot_source(conn):
    """One row per quota slot: (staff_id, language, store_id, cap, k), k = 1..cap."""
    c = CAPS.c
    if conn.dialect.name == "postgresql":
        return (select(c.staff_id, c.language, c.store_id, c.cap, func.generate_series(1, c.cap).label("k"))
                .where(c.cap > 0).subquery("slot_gen"))
    gen = (select(c.staff_id, c.language, c.store_id, c.cap, literal(1, Integer).label("k"))
           .where(c.cap > 0).cte("slot_gen", recursive=True))
    gen = gen.union_all(select(gen.c.staff_id, gen.c.language, gen.c.store_id, gen.c.cap,
                               gen.c.k + 1).where(gen.c.k < gen.c.cap))
    return select(gen).subquery("slot_all")


def _match(conn, cand) -> None:
    """Fill ``wb_match`` (key, staff_id) for every placed candidate: own
    store first, then the rest over interleaved slots (module docstring).

    Each step is one INSERT … SELECT into a temporary table whose ranks are
    plain columns, so every join is an equality on stored values that both
    databases hash or index (a join on two window functions' outputs is
    planned as a nested loop on PostgreSQL: minutes at 10⁶ rows).
    """
    need, caps = NEED.c, CAPS.c
    # 1. The placed candidates: the first n of each language in priority
    #    order. Of a store's m clients, x = min(m, own-store capacity) go to
    #    its agents: client j (j-th of the store) is picked iff ⌊j·x/m⌋ steps
    #    up, an evenly spread sample, and becomes own-store pick number ⌊j·x/m⌋.
    ranked = (select(cand.c.key, cand.c.language, cand.c.store_id, cand.c.priority,
                     func.row_number().over(partition_by=cand.c.language,
                                            order_by=cand.c.priority).label("lr"))
              .subquery("m_ranked"))
    placed = (select(ranked.c.key, ranked.c.language, ranked.c.store_id, ranked.c.priority)
              .join(NEED, need.language == ranked.c.language)
              .where(ranked.c.lr <= need.n).subquery("m_placed"))
    own_cap = (select(caps.language, caps.store_id, func.sum(caps.cap).label("c"))
               .where(caps.store_id.is_not(None)).group_by(caps.language, caps.store_id)
               .subquery("m_own_cap"))
    c_own = func.coalesce(own_cap.c.c, 0)
    pj = (select(placed.c.key, placed.c.language, placed.c.store_id, placed.c.priority,
                 func.row_number().over(partition_by=(placed.c.language, placed.c.store_id),
                                        order_by=placed.c.priority).label("j"),
                 func.count().over(partition_by=(placed.c.language, placed.c.store_id)).label("m"),
                 c_own.label("c"))
          .outerjoin(own_cap, and_(own_cap.c.language == placed.c.language,
                                   own_cap.c.store_id == placed.c.store_id))
          .subquery("m_pj"))
    x = case((pj.c.m < pj.c.c, pj.c.m), else_=pj.c.c)
    step = (pj.c.j * x) // pj.c.m
    pick = case((and_(x > 0, step > ((pj.c.j - 1) * x) // pj.c.m), step), else_=null())
    conn.execute(insert(PLACED).from_select(
        ["key", "language", "store_id", "priority", "pick_rank"],
        select(pj.c.key, pj.c.language, pj.c.store_id, pj.c.priority, pick)))
    # 2. Every quota slot; own_rank orders a store's slots by (k − ½)/cap.
    src = _slot_source(conn)
    key_of = cast(2 * src.c.k - 1, Float) / (2 * src.c.cap)
    own_rank = case((src.c.store_id.is_(None), null()),
                    else_=func.row_number().over(partition_by=(src.c.language, src.c.store_id),
                                                 order_by=(key_of, src.c.staff_id)))
    conn.execute(insert(SLOTS).from_select(
        ["staff_id", "language", "store_id", "cap", "k", "own_rank"],
        select(src.c.staff_id, src.c.language, src.c.store_id, src.c.cap, src.c.k, own_rank)))
    _analyze(conn, PLACED, SLOTS)
    p, sl = PLACED.c, SLOTS.c
    # 3. Own-store picks meet their store's slots by rank.
    conn.execute(insert(MATCH).from_select(
        ["key", "staff_id", "language"],
        select(p.key, sl.staff_id, p.language)
        .join(SLOTS, and_(sl.language == p.language, sl.store_id == p.store_id, sl.own_rank == p.pick_rank))
        .where(p.pick_rank.is_not(None))))
    m = MATCH.c
    # 4. The rest, in priority order, and the slots left (re-keyed per agent).
    conn.execute(insert(REST).from_select(
        ["key", "language", "r"],
        select(p.key, p.language, func.row_number().over(partition_by=p.language, order_by=p.priority))
        .outerjoin(MATCH, m.key == p.key).where(m.key.is_(None))))
    used = (select(m.staff_id, m.language, func.count().label("u"))
            .group_by(m.staff_id, m.language).subquery("m_used"))
    u = func.coalesce(used.c.u, 0)
    rekey = cast(2 * (sl.k - u) - 1, Float) / (2 * (sl.cap - u))
    conn.execute(insert(FREE).from_select(
        ["staff_id", "language", "r"],
        select(sl.staff_id, sl.language,
               func.row_number().over(partition_by=sl.language, order_by=(rekey, sl.staff_id)))
        .outerjoin(used, and_(used.c.staff_id == sl.staff_id, used.c.language == sl.language))
        .where(sl.k > u)))
    _analyze(conn, REST, FREE)
    r, f = REST.c, FREE.c
    conn.execute(insert(MATCH).from_select(
        ["key", "staff_id", "language"],
        select(r.key, f.staff_id, r.language).join(FREE, and_(f.language == r.language, f.r == r.r))))
    _analyze(conn, MATCH)


# ------------------------------------------------------------------ the run

def run(campaign_id: int, *, move_absent: bool = False, progress=None) -> dict:
    """Place the campaign's clients (launch or re-run); flushes, never commits.

    Returns {"eligible", "holdout", "placed" (by this run), "returned" (to the
    pool by this run), "pool", "pool_reasons": {reason: n}, "assigned"}.
    The campaign row is locked for the run (``FOR UPDATE`` on PostgreSQL),
    so two runs of one campaign never interleave.
    """
    progress = progress or (lambda f: None)
    camp = db.session.get(Campaign, campaign_id, with_for_update=True, populate_existing=True)
    if camp is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    if camp.status not in ("active", "paused"):
        raise Conflict(f"campaign {campaign_id} is {camp.status}; only an active or paused campaign "
                       "is assigned")
    now = clock.utcnow_naive()
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        # Sorting and ranking a million clients wants more than the 4 MB default;
        # SET LOCAL ends with this transaction.
        mb = int(current_app.config["ASSIGN_WORK_MEM_MB"])
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{mb}MB'")
    _reset_temps(conn)
    first = db.session.scalar(select(CampaignItem.id)
                              .where(CampaignItem.campaign_id == campaign_id).limit(1)) is None
    agents = _agents(campaign_id)
    returned = 0
    if first:
        if conn.dialect.name == "postgresql":
            # The per-client aggregate over every visit streams through the
            # covering (client, status, date) INCLUDE (amount) index in client
            # order; PostgreSQL's cost model prefers a hash table of a million
            # groups, which is 2.5× slower (cache misses): 7.7 s against 3.1 s
            # for 10M visits. Only for this statement.
            conn.exec_driver_sql("SET LOCAL enable_hashagg = off")
        _materialise(camp, now)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_hashagg = on")
        e = ELIG.c
        cand = (select(e.client_id.label("key"), e.language, e.store_id, e.priority)
                .where(e.holdout == 0).subquery("cand"))
        _analyze(conn, ELIG)
    else:
        returned = _return_excess(campaign_id, agents, move_absent)
        i = CampaignItem
        cand = (select(i.id.label("key"), i.language, i.store_id, i.priority)
                .where(i.campaign_id == campaign_id, i.status == "pool").subquery("cand"))
    progress(0.5)

    load_now = dict(db.session.execute(
        select(CampaignItem.staff_id, func.count())
        .where(CampaignItem.campaign_id == campaign_id, CampaignItem.staff_id.is_not(None))
        .group_by(CampaignItem.staff_id)).all()) if not first else {}
    caps = {a["staff_id"]: max(0, a["target"] - load_now.get(a["staff_id"], 0))
            for a in agents if not a["absent"]}
    speaks = {a["staff_id"]: a["languages"] for a in agents}
    spoken = sorted({lang for a in agents if not a["absent"] and a["target"] > 0 for lang in a["languages"]})
    demand = _demand(cand)
    placed = _placed_counts(cand, caps, speaks, demand)
    split = capacity.balanced_split(caps, speaks, placed)
    store_of = {a["staff_id"]: a["store_id"] for a in agents}
    if split:
        conn.execute(insert(CAPS), [{"staff_id": sid, "language": lang, "store_id": store_of[sid], "cap": n}
                                    for (sid, lang), n in split.items()])
    needs = [{"language": lang, "n": n} for lang, n in placed.items() if n > 0]
    if needs:
        conn.execute(insert(NEED), needs)
    _match(conn, cand)
    match = MATCH
    progress(0.7)

    pool_reason = case((CampaignItem.language.in_(spoken), "quota_full"), else_="no_agent_language") \
        if spoken else literal("no_agent_language", String)
    if first:
        e = ELIG.c
        reason_e = case((e.language.in_(spoken), "quota_full"), else_="no_agent_language") \
            if spoken else literal("no_agent_language", String)
        status = case((e.holdout == 1, "holdout"), (match.c.staff_id.is_not(None), "queued"), else_="pool")
        cols = ["campaign_id", "client_id", "staff_id", "status", "pool_reason", "language", "store_id",
                "wronged", "value_class", "days_since", "priority", "attempts", "assigned_at", "created_at"]
        src = (select(literal(campaign_id, Integer), e.client_id, match.c.staff_id, status,
                      case((and_(e.holdout == 0, match.c.staff_id.is_(None)), reason_e), else_=null()),
                      e.language, e.store_id, e.wronged, e.value_class, e.days_since, e.priority,
                      literal(0, Integer),
                      case((match.c.staff_id.is_not(None), literal(now)), else_=null()),
                      literal(now))
               .select_from(ELIG).outerjoin(match, match.c.key == e.client_id))
        db.session.execute(insert(CampaignItem).from_select(cols, src))
    else:
        db.session.execute(
            update(CampaignItem).where(CampaignItem.id == match.c.key)
            .values(staff_id=match.c.staff_id, status="queued", assigned_at=now, pool_reason=None)
            .execution_options(synchronize_session=False))
        db.session.execute(update(CampaignItem)
                           .where(CampaignItem.campaign_id == campaign_id, CampaignItem.status == "pool")
                           .values(pool_reason=pool_reason)
                           .execution_options(synchronize_session=False))
    _drop_temps(conn)
    # Items moved between agents: their leaderboard "assigned" is rebuilt before the next read.
    marks.mark_campaign(campaign_id)
    progress(0.9)
    counts = queries.item_counts(campaign_id)
    # UPDATE … FROM reports no row count on SQLite: count placements instead.
    with_agent = db.session.scalar(select(func.count()).where(CampaignItem.campaign_id == campaign_id,
                                                              CampaignItem.staff_id.is_not(None)))
    placed_now = with_agent - sum(load_now.values())
    return {"eligible": counts["eligible"], "holdout": counts["holdout"], "placed": placed_now,
            "returned": returned, "pool": counts["pool"], "pool_reasons": counts["pool_reasons"],
            "assigned": counts["assigned"], "first_run": first}


def _materialise(camp: Campaign, now: datetime) -> None:
    """The eligible clients with their priority and holdout draw → wb_elig."""
    rows = policy.assess(camp.as_of, now=now, target=policy.Target.of(camp), campaign_id=camp.id,
                         holdout=(camp.holdout_seed, camp.holdout_bp)).subquery("elig_src")
    src = (select(rows.c.client_id, rows.c.client_ref, rows.c.store_id, rows.c.language,
                  rows.c.value_class, rows.c.days_since, rows.c.wronged, rows.c.holdout,
                  func.row_number().over(order_by=policy.priority_order(rows)).label("priority"))
           .where(rows.c.reason.is_(None)))
    db.session.execute(insert(ELIG).from_select(
        ["client_id", "client_ref", "store_id", "language", "value_class", "days_since", "wronged",
         "holdout", "priority"], src))

