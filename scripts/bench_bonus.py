#!/usr/bin/env python
"""Benchmark: a month's bonus run and its payroll export (SPEC §8) on
PostgreSQL, over the scores benchmark's data, with a row-for-row check
against an independent computation.

    python scripts/bench_bonus.py            # 1,000,000 outcomes / 500 agents (database winback_bench_scores)
    python scripts/bench_bonus.py --small    # 50,000 outcomes / 100 agents (winback_bench_scores_small; CI)
    python scripts/bench.py --only bonus     # the same, and writes its section of docs/BENCHMARKS.md

Target (issue 6): a bonus run + export for 500 agents over 1,000,000
outcomes in ≤ 2 s. A missed target is reported, never fatal; a failed
correctness check makes the exit status 1.

Data: the scores benchmark's database, made or reused by
``bench_scores.ensure_data`` exactly as that benchmark decides (generated
set-based when missing or when its parameters / migrations changed, reused
otherwise; ``--regen`` forces it). Generation leaves the roll-ups empty (the
scores benchmark times their rebuild), so when ``conversions`` and
``score_days`` are both empty this benchmark runs ``scores.rebuild_all()``
once and says so. Marks left in ``score_dirty`` are worked off by one
``scores.refresh()`` before timing (reported). Outcomes, conversions and
roll-ups are never written: a fingerprint of them is taken before the timed
part and compared after it (a check).

The month: the one with the most outcomes (2026-10 in the generated data);
the months before it for the corrections scenarios. Set up once (idempotent,
kept between runs): a bonus plan for each of those months
(``services.put_plan``, replaced when the rule below gives other numbers;
``min_calls`` is the 10th percentile of the agents' calls in the month, so
about a tenth of them share no team pool and win no place; ``cap`` lets an
ordinary competition winner through and stops the top places), two team and
two agent competitions in each month that has none
(``scoring.services.create_competition``), a manager and a payroll clerk
(``BENCH-MGR``, ``BENCH-PAY``); the HTTP scenario makes them API tokens
labelled ``bench-bonus`` and revokes them (deletes the rows) at its end. At
the end the bonus tables are left empty.

Each run, every scenario in its own fresh process (the app made by
``create_app`` with ``DATABASE_URL`` = the bench database), one untimed
warm-up repetition and then ``--repeat`` timed ones (median and each
reported); before every repetition ``bonus_conversions``,
``bonus_adjustments``, ``bonus_lines`` and ``bonus_runs`` are emptied and
vacuumed (not timed):

1. in-process: ``runs.compute_run`` + commit; ``runs.approve`` + commit;
   ``runs.export(csv)`` + commit (the first export: locks the run and renders
   and stores both files with their SHA-256); a re-export as XLSX (stored
   bytes) + commit. "Run + export" is their sum, against the 2 s target.
2. HTTP, through the Flask test client with bearer tokens (the manager
   computes and approves, payroll exports): ``POST /api/v1/bonus-runs``,
   ``POST …/approve``, ``GET …/export.csv``, ``GET …/export.xlsx``.
3. next month: the previous month is computed, approved and exported (locked)
   first, then the month's run is timed as in 1 — its ``compute_run``
   recomputes the locked month for corrections (none: the data did not
   change), which is what every run after the first one pays.
4. history (when the data has two or more months before the month): every
   earlier month locked in turn, then the month's run timed as in 1 — with 0,
   1 and n locked months, the cost of each locked month the corrections
   check recomputes.

Floor: the two statements a run cannot avoid, by hand in one transaction
that is rolled back — the month's aggregate over ``score_days`` and the copy
of the month's conversions into ``bonus_conversions``.

Profile (unless ``--no-profile``): two more in-process repetitions, one
under cProfile (the Python functions that take the time), one with
auto_explain (ANALYZE, triggers) for statements over ``--explain-ms``; and
in every repetition each phase's statements (count, SQL time, the slowest).

Checks (after each scenario, on the database as the scenario left it): the
run's ``bonus_lines`` against an independent computation of SPEC §8 (the
month's numbers straight from ``outcomes`` and ``conversions`` in one
hand-written statement, the team of the month, the team pools, the rank
rewards with shared places, the competitions, the floor and the cap in plain
Python here, not ``rules.py``); the stored CSV's rows against the lines
(non-zero rows, by employee code, two decimals) and the header of SPEC §8;
the XLSX read back against the CSV; ``sum(total)`` = ``bonus_runs.total``;
the stored files against their SHA-256 and every export's and re-export's
bytes against them; no adjustment in the corrections scenarios; outcomes /
conversions / roll-ups / visits unchanged. The mismatches are printed.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT / "scripts"))
import bench_calls  # noqa: E402
import bench_scores  # noqa: E402

DEFAULT_PG = bench_scores.DEFAULT_PG  # the scores benchmark's database: same data
TARGET_S = 2.0
CURRENCY = "PLN"
TOKEN_LABEL = "bench-bonus"
MANAGER = ("BENCH-MGR", "Bench Manager", "manager")
PAYROLL = ("BENCH-PAY", "Bench Payroll", "payroll")
BONUS_TABLES = ("bonus_conversions", "bonus_adjustments", "bonus_lines", "bonus_runs")
# The plan's fixed parts (minor units of PLN); min_calls and cap follow the data (plan_for).
TEAM_PER_VISIT = 1500            # 15.00 per conversion into the team pool
RANK_REWARDS = [50000, 30000, 10000]
COMPETITION_REWARD = 20000
COMPETITION_PENALTY = 5000
COLUMNS = ["period", "employee_code", "name", "team", "team_share", "rank_reward", "competition", "adjustments",
           "total", "currency"]  # SPEC §8, written out here rather than imported
AMOUNTS = ("team_share", "rank_reward", "competition", "adjustments", "total")
PHASES = ("compute", "approve", "export_csv", "reexport_xlsx")
PHASE_LABELS = {"compute": "`compute_run` + commit", "approve": "`approve` + commit",
                "export_csv": "first export (csv): lock, render CSV + XLSX, store + commit",
                "reexport_xlsx": "re-export (xlsx, stored bytes) + commit"}
HTTP_LABELS = {"compute": "`POST /api/v1/bonus-runs`", "approve": "`POST …/approve`",
               "export_csv": "`GET …/export.csv` (locks)", "reexport_xlsx": "`GET …/export.xlsx`"}


def log(*a):
    print(*a, flush=True)


def _connect(url: str, autocommit: bool = False):
    import psycopg
    return psycopg.connect(url, autocommit=autocommit)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# ------------------------------------------------------------------ the month, the plan, the data's state

def months(url: str) -> list[tuple[int, int]]:
    """[(YYYYMM, outcomes)] of the data, most outcomes first."""
    with _connect(url) as conn:
        return [(int(m), int(n)) for m, n in conn.execute(
            "SELECT to_char(local_date, 'YYYYMM'), count(*) FROM outcomes GROUP BY 1 ORDER BY 2 DESC, 1")]


def label_of(key: int) -> str:
    return f"{key // 100:04d}-{key % 100:02d}"


def bounds(key: int) -> tuple[date, date]:
    y, m = divmod(key, 100)
    return date(y, m, 1), date(y + m // 12, m % 12 + 1, 1)


def previous(key: int) -> int:
    y, m = divmod(key, 100)
    return (y - 1) * 100 + 12 if m == 1 else key - 1


def rollup_state(url: str) -> dict:
    with _connect(url) as conn:
        q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {"conversions": q("SELECT count(*) FROM conversions"),
                "score_days": q("SELECT count(*) FROM score_days"),
                "dirty": q("SELECT count(*) FROM score_dirty")}


def fingerprint(url: str) -> dict:
    """What the bench must never write: counts and row hashes of the data and its roll-ups."""
    with _connect(url) as conn:
        q = lambda sql: [str(x) for x in conn.execute(sql).fetchone()]  # noqa: E731
        return {"outcomes": q("SELECT count(*), max(id), sum(id), sum(hashtext(disposition || team_id::text)) "
                              "FROM outcomes"),
                "conversions": q("SELECT count(*), sum(hashtextextended(c::text, 0)) FROM conversions c"),
                "score_days": q("SELECT count(*), sum(hashtextextended(d::text, 0)) FROM score_days d"),
                "visits": q("SELECT count(*), max(id), sum(coalesce(amount, 0)) FROM visits")}


def plan_for(url: str, key: int) -> dict:
    """The month's plan: the fixed amounts above, ``min_calls`` at the 10th
    percentile of the agents' calls that month (rounded down to 10), ``cap``
    the average team share of an eligible agent + the competition reward +
    100.00, rounded up to 10.00 (an ordinary competition winner stays under
    it; the top places and the best-paid teams' winners go over)."""
    first, nxt = bounds(key)
    with _connect(url) as conn:
        calls = [n for (n,) in conn.execute(
            "SELECT count(*) FROM outcomes o WHERE local_date >= %s AND local_date < %s"
            " AND NOT EXISTS (SELECT 1 FROM outcomes l WHERE l.corrects_id = o.id) GROUP BY staff_id ORDER BY 1",
            (first, nxt))]
        conv = conn.execute("SELECT count(*) FROM conversions WHERE local_date >= %s AND local_date < %s",
                            (first, nxt)).fetchone()[0]
    min_calls = calls[(len(calls) - 1) // 10] // 10 * 10 if calls else 0
    share = TEAM_PER_VISIT * conv // max(1, sum(1 for n in calls if n >= min_calls))
    return {"currency": CURRENCY, "team_per_visit": TEAM_PER_VISIT, "rank_rewards": RANK_REWARDS,
            "min_calls": min_calls, "competition_reward": COMPETITION_REWARD,
            "competition_penalty": COMPETITION_PENALTY,
            "cap": -(-(share + COMPETITION_REWARD + 10000) // 1000) * 1000}


def competitions_for(url: str, key: int) -> list[dict]:
    """Two team and two agent competitions, between neighbours in the data's order."""
    with _connect(url) as conn:
        teams = [r[0] for r in conn.execute("SELECT name FROM teams ORDER BY id LIMIT 4")]
        agents = [r[0] for r in conn.execute(
            "SELECT s.employee_code FROM staff s JOIN staff_roles r ON r.staff_id = s.id AND r.role = 'agent' "
            "WHERE s.active ORDER BY s.id LIMIT 4")]
    label = label_of(key)
    return ([{"period": label, "kind": "team", "side_a": teams[i], "side_b": teams[i + 1],
              "name": f"Bench: {teams[i]} vs {teams[i + 1]}"} for i in (0, 2)]
            + [{"period": label, "kind": "agent", "side_a": agents[i], "side_b": agents[i + 1]} for i in (0, 2)])


def floor(url: str, key: int, runs: int) -> list[float]:
    """The run's unavoidable SQL by hand, rolled back: the month's aggregate
    over score_days and the copy of its conversions into bonus_conversions."""
    first, nxt = bounds(key)
    out = []
    with _connect(url) as conn:
        for _ in range(runs + 1):
            t = time.perf_counter()
            conn.execute("SELECT staff_id, team_id, sum(calls), sum(reached_m), sum(conversions), "
                         "max(CASE WHEN calls > 0 THEN day END) FROM score_days WHERE day >= %s AND day < %s "
                         "GROUP BY 1, 2", (first, nxt)).fetchall()
            run_id = conn.execute("INSERT INTO bonus_runs (month, status, currency, plan, basis_seq, total, "
                                  "lines_count, created_at) VALUES (190001, 'draft', 'PLN', '{}', 0, 0, 0, now()) "
                                  "RETURNING id").fetchone()[0]
            conn.execute("INSERT INTO bonus_conversions (run_id, month, conversion_id, campaign_id, client_id, "
                         "visit_id, staff_id, team_id, local_date, amount, currency) SELECT %s, month, id, "
                         "campaign_id, client_id, visit_id, staff_id, team_id, local_date, amount, currency "
                         "FROM conversions WHERE month = %s", (run_id, key))
            out.append(time.perf_counter() - t)
            conn.rollback()
    return out[1:]  # the first one warms the caches


# ------------------------------------------------------------------ SPEC §8, independently

# The month's numbers per (agent, team) straight from outcomes and conversions:
# calls = standing outcomes (none corrects them) logged in the month; reached =
# distinct (campaign, client) an agent reached in the month, counted on the team
# of the first such call; conversions = credited conversions whose visit is in
# the month, on the team of the converting call; last_day = the latest call day.
NUMBERS_SQL = """
WITH eff AS (SELECT o.id, o.staff_id, o.team_id, o.campaign_id, o.client_id, o.reached, o.call_at, o.local_date
             FROM outcomes o
             WHERE o.local_date >= %(first)s AND o.local_date < %(next)s
               AND NOT EXISTS (SELECT 1 FROM outcomes l WHERE l.corrects_id = o.id)),
     calls AS (SELECT staff_id, coalesce(team_id, 0) AS t, count(*) AS n, max(local_date) AS last_day
               FROM eff GROUP BY 1, 2),
     first_reach AS (SELECT DISTINCT ON (staff_id, campaign_id, client_id) staff_id, coalesce(team_id, 0) AS t
                     FROM eff WHERE reached ORDER BY staff_id, campaign_id, client_id, call_at, id),
     reach AS (SELECT staff_id, t, count(*) AS n FROM first_reach GROUP BY 1, 2),
     conv AS (SELECT staff_id, coalesce(team_id, 0) AS t, count(*) AS n FROM conversions
              WHERE local_date >= %(first)s AND local_date < %(next)s GROUP BY 1, 2),
     keys AS (SELECT staff_id, t FROM calls UNION SELECT staff_id, t FROM reach UNION SELECT staff_id, t FROM conv)
SELECT k.staff_id, nullif(k.t, 0), coalesce(c.n, 0), coalesce(r.n, 0), coalesce(v.n, 0), c.last_day
FROM keys k LEFT JOIN calls c USING (staff_id, t) LEFT JOIN reach r USING (staff_id, t)
            LEFT JOIN conv v USING (staff_id, t)"""


def _split(amount: int, ordered: list) -> dict:
    """Equal shares; the leftover cents one each to the first in ``ordered``."""
    if not ordered:
        return {}
    share, left = divmod(amount, len(ordered))
    return {x: share + (1 if i < left else 0) for i, x in enumerate(ordered)}


def _rate(conv: int, reached: int) -> Fraction:
    return Fraction(conv, reached) if reached else Fraction(0)


def expected_month(url: str, key: int, plan: dict) -> dict:
    """Every agent's statement for month ``key`` under ``plan``:
    ``{employee_code: {...}}`` plus the month's facts."""
    first, nxt = bounds(key)
    with _connect(url) as conn:
        rows = conn.execute(NUMBERS_SQL, {"first": first, "next": nxt}).fetchall()
        staff = {sid: (code, name, team) for sid, code, name, team in conn.execute(
            "SELECT id, employee_code, name, team_id FROM staff")}
        agents_now = {sid for (sid,) in conn.execute(
            "SELECT s.id FROM staff s JOIN staff_roles r ON r.staff_id = s.id AND r.role = 'agent' WHERE s.active")}
        teams = dict(conn.execute("SELECT id, name FROM teams").fetchall())
        comps = conn.execute("SELECT kind, side_a, side_b FROM competitions WHERE month = %s ORDER BY id",
                             (key,)).fetchall()
    # Per agent over the month, per team (at the time of the call), and each
    # agent's team of the month: most calls, then most conversions, then the
    # latest call day (then the lower team id: an exact tie needs some order).
    mine = defaultdict(lambda: [0, 0, 0])  # staff -> calls, reached, conversions
    by_team = defaultdict(lambda: [0, 0, 0])
    best = {}
    for sid, team, calls, reached, conv, last_day in rows:
        for acc in (mine[sid], by_team[team]):
            acc[0], acc[1], acc[2] = acc[0] + calls, acc[1] + reached, acc[2] + conv
        rank = (calls, conv, last_day.toordinal() if last_day else 0, -(team or 0))
        if sid not in best or rank > best[sid][0]:
            best[sid] = (rank, team)
    people = agents_now | set(mine)
    team_of = {sid: best[sid][1] if sid in best else staff[sid][2] for sid in people}
    code = {sid: staff[sid][0] for sid in people}
    eligible = {sid for sid in people if mine[sid][0] >= plan["min_calls"]}

    team_share = defaultdict(int)
    for team, (_, _, conv) in by_team.items():
        if team is None or not conv:
            continue
        members = sorted((sid for sid in eligible if team_of[sid] == team), key=lambda s: (-mine[s][2], code[s]))
        for sid, amount in _split(plan["team_per_visit"] * conv, members).items():
            team_share[sid] += amount

    rank_reward, places = {}, {}
    field = sorted((sid for sid in eligible if mine[sid][2] >= 1),
                   key=lambda s: (-mine[s][2], -_rate(mine[s][2], mine[s][1]), mine[s][0], code[s]))
    def standing(s):  # what a tie is made of: conversions and visit rate
        return mine[s][2], _rate(mine[s][2], mine[s][1])

    i = 0
    while i < len(field):
        j = i
        while j + 1 < len(field) and standing(field[j + 1]) == standing(field[i]):
            j += 1
        group = sorted(field[i:j + 1], key=lambda s: code[s])
        occupied = list(range(i + 1, j + 2))
        pot = sum(plan["rank_rewards"][p - 1] for p in occupied if p <= len(plan["rank_rewards"]))
        for sid, amount in _split(pot, group).items():
            rank_reward[sid], places[sid] = amount, occupied
        i = j + 1

    competition = defaultdict(int)
    results = []
    for kind, a, b in comps:
        sides = []
        for side in (a, b):
            if kind == "agent":
                numbers, members = mine.get(side, [0, 0, 0]), ([side] if side in people else [])
            else:
                numbers, members = by_team.get(side, [0, 0, 0]), [s for s in people if team_of[s] == side]
            sides.append((_rate(numbers[2], numbers[1]), members))
        if sides[0][0] == sides[1][0]:
            results.append("draw")
            continue
        win, lose = (sides[0], sides[1]) if sides[0][0] > sides[1][0] else (sides[1], sides[0])
        results.append("a" if win is sides[0] else "b")
        for sid in win[1]:
            competition[sid] += plan["competition_reward"]
        for sid in lose[1]:
            competition[sid] -= plan["competition_penalty"]

    out = {}
    for sid in people:
        raw = team_share[sid] + rank_reward.get(sid, 0) + competition[sid]
        own = max(0, raw)
        capped = plan["cap"] is not None and own > plan["cap"]
        own = plan["cap"] if capped else own
        out[code[sid]] = {"staff_id": sid, "name": staff[sid][1], "team_id": team_of[sid],
                          "team": teams.get(team_of[sid]), "calls": mine[sid][0], "reached": mine[sid][1],
                          "conversions": mine[sid][2], "eligible": sid in eligible,
                          "team_share": team_share[sid], "rank_reward": rank_reward.get(sid, 0),
                          "competition": competition[sid], "adjustments": 0, "own": own, "total": own,
                          "floored": raw < 0, "capped": capped, "places": places.get(sid, [])}
    return {"lines": out, "results": results, "conversions": sum(v[2] for v in mine.values()),
            "numbers_rows": len(rows)}


def money(minor: int) -> str:
    """Two decimals from minor units of a two-decimal currency: -12345 -> '-123.45'."""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def csv_rows(label: str, lines: dict) -> list[list[str]]:
    """The payroll rows SPEC §8 asks for: non-zero rows, by employee code, two decimals."""
    return [[label, c, ln["name"], ln["team"] or "", *[money(ln[k]) for k in AMOUNTS], CURRENCY]
            for c, ln in sorted(lines.items())
            if any(ln[k] for k in AMOUNTS)]


LINE_FIELDS = ("staff_id", "team_id", "calls", "reached", "conversions", "eligible", "team_share", "rank_reward",
               "competition", "adjustments", "own", "total", "floored", "capped", "places")


def check_run(url: str, key: int, want: dict, downloads: list[dict] | None = None) -> tuple[list, list]:
    """(checks, mismatches) of the run of month ``key`` as stored, against
    ``want``; ``downloads``: the SHA-256 of what each repetition's exports
    returned, ``[{"csv": [...], "xlsx": [...]}]`` in order (the last one's run is stored)."""
    label = label_of(key)
    checks, bad = [], []
    with _connect(url) as conn:
        run = conn.execute("SELECT id, status, total, lines_count, lock_seq, csv_file, csv_sha256, xlsx_file, "
                           "xlsx_sha256, currency FROM bonus_runs WHERE month = %s", (key,)).fetchone()
        if run is None:
            return [(f"{label}: a run exists", False, "none")], [f"{label}: no run"]
        run_id, status, total, count, lock_seq, csv_file, csv_sha, xlsx_file, xlsx_sha, currency = run
        cols = ", ".join(("employee_code", "name", "team") + LINE_FIELDS)
        got = {r[0]: dict(zip(("employee_code", "name", "team") + LINE_FIELDS, r)) for r in conn.execute(
            f"SELECT {cols} FROM bonus_lines WHERE run_id = %s", (run_id,))}
        kept = conn.execute("SELECT count(*) FROM bonus_conversions WHERE run_id = %s AND month = %s",
                            (run_id, key)).fetchone()[0]
        adjustments = conn.execute("SELECT count(*) FROM bonus_adjustments WHERE run_id = %s", (run_id,)).fetchone()[0]
    lines = want["lines"]
    # 1. Lines, field by field, against the independent computation.
    for c in sorted(set(lines) | set(got)):
        if c not in got or c not in lines:
            bad.append(f"{label} {c}: {'missing from the run' if c not in got else 'not expected'}")
            continue
        diff = [f"{k} {got[c][k]!r} ≠ {lines[c][k]!r}" for k in LINE_FIELDS if got[c][k] != lines[c][k]]
        if diff:
            bad.append(f"{label} {c}: " + ", ".join(diff))
    n_bad = len(bad)
    checks.append((f"{label}: bonus_lines = independent SPEC §8 computation, row for row", n_bad == 0,
                   f"{len(got)} lines, {n_bad} differ; paid {sum(1 for x in got.values() if x['total'])}, "
                   f"eligible {sum(1 for x in got.values() if x['eligible'])}, capped "
                   f"{sum(1 for x in got.values() if x['capped'])}, floored "
                   f"{sum(1 for x in got.values() if x['floored'])}, in a shared place "
                   f"{sum(1 for x in got.values() if len(x['places'] or []) > 1)}; competitions {want['results']}"))
    # 2. Totals.
    want_total = sum(x["total"] for x in lines.values())
    ok = total == sum(x["total"] for x in got.values()) == want_total and count == len(got)
    checks.append((f"{label}: sum(bonus_lines.total) = bonus_runs.total = expected", ok,
                   f"{total:,} / {sum(x['total'] for x in got.values()):,} / {want_total:,} minor units; "
                   f"lines_count {count}"))
    if not ok:
        bad.append(f"{label}: totals {total} / {sum(x['total'] for x in got.values())} / {want_total}")
    checks.append((f"{label}: conversions kept = the month's conversions", kept == want["conversions"],
                   f"{kept:,} vs {want['conversions']:,}"))
    checks.append((f"{label}: no adjustments (the data did not change)", adjustments == 0, f"{adjustments}"))
    checks.append((f"{label}: locked", status == "exported" and lock_seq is not None and currency == CURRENCY,
                   f"status {status}, lock_seq {lock_seq}, {currency}"))
    if csv_file is None:
        checks.append((f"{label}: files stored", False, "no csv"))
        return checks, bad + [f"{label}: no files"]
    csv_file, xlsx_file = bytes(csv_file), bytes(xlsx_file)
    # 3. The stored CSV against the lines and against the expectation.
    text = csv_file.decode("utf-8")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    from_lines = csv_rows(label, got)
    from_want = csv_rows(label, lines)
    header_ok = parsed[:1] == [COLUMNS] and not text.startswith("\ufeff") and "\r\n" in text
    rows_ok = parsed[1:] == from_lines == from_want
    checks.append((f"{label}: CSV = bonus_lines (non-zero rows, by employee code, two decimals) = expected",
                   header_ok and rows_ok, f"{len(parsed) - 1} rows ({len(from_lines)} from the lines, "
                   f"{len(from_want)} expected); header {'ok' if header_ok else parsed[:1]}"))
    if not rows_ok:
        for i, (a, b) in enumerate(zip(parsed[1:], from_want)):
            if a != b:
                bad.append(f"{label} CSV row {i + 1}: {a} ≠ {b}")
                break
    csv_sum = sum(int(r[8].replace(".", "")) for r in parsed[1:])
    checks.append((f"{label}: sum of the CSV's totals = bonus_runs.total", csv_sum == total, f"{csv_sum:,}"))
    # 4. XLSX read back: the same rows (amounts as numbers shown with 0.00).
    from openpyxl import load_workbook
    ws = load_workbook(io.BytesIO(xlsx_file), read_only=True).active
    xrows = [[("" if v is None else (f"{v:.2f}" if isinstance(v, (int, float)) or hasattr(v, "quantize")
                                     else str(v))) for v in r] for r in ws.iter_rows(values_only=True)]
    checks.append((f"{label}: XLSX read back = CSV", xrows == parsed, f"{len(xrows) - 1} rows"))
    # 5. Hashes: the stored bytes against theirs; every download of the run
    # left in place (the scenario's last) against them; the CSV of every
    # repetition the same (the same data makes the same file; the XLSX carries
    # its creation time, so only a re-export of one run is byte-identical).
    hashes_ok = hashlib.sha256(csv_file).hexdigest() == csv_sha and hashlib.sha256(xlsx_file).hexdigest() == xlsx_sha
    if downloads:
        last = downloads[-1]
        re_ok = all(d == csv_sha for d in last["csv"]) and all(d == xlsx_sha for d in last["xlsx"])
        same_csv = {d for rep in downloads for d in rep["csv"]} == {csv_sha}
        same_xlsx = all(len(set(rep["xlsx"])) <= 1 for rep in downloads)
        checks.append((f"{label}: stored files match their SHA-256; the run's exports and re-exports served those "
                       "bytes; each run's downloads byte-identical, the CSV the same in every repetition",
                       hashes_ok and re_ok and same_csv and same_xlsx,
                       f"csv {csv_sha[:12]}…, xlsx {xlsx_sha[:12]}…; {sum(len(r['csv']) for r in downloads)} CSV and "
                       f"{sum(len(r['xlsx']) for r in downloads)} XLSX downloads in {len(downloads)} runs"))
    else:
        checks.append((f"{label}: stored files match their SHA-256", hashes_ok, f"csv {csv_sha[:12]}…, "
                       f"xlsx {xlsx_sha[:12]}…"))
    return checks, bad


# ------------------------------------------------------------------ the app side (a fresh process per scenario)

def run_worker(url: str, spec: dict, what: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "WINBACK_NOW", "PGOPTIONS")}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT), WINBACK_ENV="development", SECRET_KEY="bench-bonus")
    proc = subprocess.run([PY, str(Path(__file__).resolve()), "--worker"], input=json.dumps(spec), cwd=ROOT,
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON "))
    return json.loads(line[len("BENCH_JSON "):])


class Statements:
    """Every statement the engine runs while ``on``: count and time, by text."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.by: dict[str, list] = {}
        self.on = False

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, many):
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, many):
            t = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
            if self.on:
                c = self.by.setdefault(" ".join(statement.split())[:200], [0, 0.0, 0])
                c[0] += 1
                c[1] += t
                c[2] += max(cursor.rowcount, 0)

    def take(self) -> dict:
        """{count, sql_s, top: [[sql, n, seconds, rows]]} since the last take."""
        rows = sorted(([k, *v] for k, v in self.by.items()), key=lambda r: -r[2])
        self.by = {}
        return {"count": sum(r[1] for r in rows), "sql_s": sum(r[2] for r in rows), "top": rows[:8]}


def _empty(db) -> None:
    """No bonus rows (their audit rows stay), vacuumed as autovacuum would."""
    from sqlalchemy import text
    db.session.remove()
    with db.engine.begin() as conn:
        for table in BONUS_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE " + ", ".join(BONUS_TABLES)))


def _person(db, code: str, name: str, role: str):
    from campaign.accounts.models import Staff, StaffRole
    staff = db.session.query(Staff).filter_by(employee_code=code).one_or_none()
    if staff is None:
        staff = Staff(employee_code=code, name=name, email=f"{code.lower()}@bench.test", active=True)
        staff.role_rows.append(StaffRole(role=role))
        db.session.add(staff)
        db.session.flush()
    return staff


def w_rebuild(app, db, stmts, spec) -> dict:
    from campaign.scoring import scores
    t = time.perf_counter()
    pairs = scores.rebuild_all()
    db.session.commit()
    return {"seconds": time.perf_counter() - t, "pairs": pairs}


def w_setup(app, db, stmts, spec) -> dict:
    """Refresh once, then the people, plans and competitions (kept between runs)."""
    from sqlalchemy import select
    from campaign.bonuses import services as bonus_services
    from campaign.bonuses.models import BonusPlan
    from campaign.scoring import scores
    from campaign.scoring import services as scoring_services
    from campaign.scoring.models import Competition
    from campaign.scoring.rules import Period
    t = time.perf_counter()
    refreshed = scores.refresh()
    refresh_s = time.perf_counter() - t
    db.session.commit()
    people = {role: _person(db, code, name, role).id for code, name, role in (MANAGER, PAYROLL)}
    made = {"plans": [], "competitions": []}
    for label, plan in spec["plans"].items():
        period = Period.parse(label)
        row = db.session.get(BonusPlan, period.key)
        have = None if row is None else {k: getattr(row, k) for k in plan}
        if have != plan:
            bonus_services.put_plan(period, plan, people["manager"])
            made["plans"].append(label)
        if db.session.scalar(select(Competition.id).where(Competition.month == period.key).limit(1)) is None:
            for comp in spec["competitions"][label]:
                scoring_services.create_competition(comp, people["manager"])
                made["competitions"].append(f"{label} {comp['kind']} {comp['side_a']} vs {comp['side_b']}")
    db.session.commit()
    return {"refresh": refreshed, "refresh_s": refresh_s, "people": people, "made": made}


def _inproc_rep(db, stmts, runs, period, people) -> tuple[dict, dict, dict]:
    """One run + export in-process: (seconds by phase, statements by phase, digests)."""
    import hashlib as h
    secs, sql, digests = {}, {}, {}
    mgr, pay = people["manager"], people["payroll"]

    def phase(name, fn):
        stmts.take()
        t = time.perf_counter()
        out = fn()
        db.session.commit()
        secs[name] = time.perf_counter() - t
        sql[name] = stmts.take()
        db.session.remove()  # as a request's end does
        return out

    run_id = phase("compute", lambda: runs.compute_run(period, mgr).id)
    phase("approve", lambda: runs.approve(run_id, mgr))
    data = phase("export_csv", lambda: runs.export(run_id, "csv", pay)[1])
    digests["csv"] = [h.sha256(data).hexdigest()]
    data = phase("reexport_xlsx", lambda: runs.export(run_id, "xlsx", pay)[1])
    digests["xlsx"] = [h.sha256(data).hexdigest()]
    again = runs.export(run_id, "csv", pay)[1]  # untimed: a re-export of the CSV serves the same bytes
    db.session.commit()
    db.session.remove()
    digests["csv"].append(h.sha256(again).hexdigest())
    return secs, sql, digests


def w_inproc(app, db, stmts, spec) -> dict:
    from campaign.bonuses import runs
    from campaign.scoring.rules import Period
    period, people = Period.parse(spec["period"]), spec["people"]
    out = {"reps": [], "warmup": None, "digests": []}  # digests: per repetition, in order
    for i in range(spec["repeat"] + 1):
        _empty(db)
        secs, sql, digests = _inproc_rep(db, stmts, runs, period, people)
        out["digests"].append(digests)
        rep = {"seconds": secs, "statements": sql}
        if i == 0:
            out["warmup"] = rep
        else:
            out["reps"].append(rep)
    if spec.get("profile"):
        out["profile"] = _profile_rep(db, stmts, runs, period, people, spec)
        out["digests"] += out["profile"].pop("digests")
    return out


# Functions whose cumulative time the profile reports by name (ours, and
# openpyxl's worksheet bounds, which it recomputes over every cell when asked).
NAMED = ("compute_run", "pending_adjustments", "compute_month", "_competitions", "_keep_conversions", "export",
         "export_rows", "render_csv", "render_xlsx", "max_row", "max_column", "save")


def _profile_rep(db, stmts, runs, period, people, spec) -> dict:
    """Two more repetitions: one under cProfile (Python's side), one with
    auto_explain (ANALYZE) logging the plans of statements over
    ``explain_ms`` (the database's side; new connections)."""
    import cProfile
    import pstats
    from sqlalchemy import event

    _empty(db)
    prof = cProfile.Profile()
    prof.enable()
    secs, sql, digests = _inproc_rep(db, stmts, runs, period, people)
    prof.disable()
    rows = []
    for (fname, line, func), (cc, nc, tt, ct, _) in pstats.Stats(prof).stats.items():
        rows.append([f"{Path(fname).name}:{line}({func})", nc, tt, ct, fname, func])
    own = sorted(rows, key=lambda r: -r[2])[:15]
    ours = sorted((r for r in rows if "/campaign/" in r[4]), key=lambda r: -r[3])[:15]
    named: dict[str, float] = {}
    for r in rows:
        if r[5] in NAMED and ("/campaign/" in r[4] or "openpyxl" in r[4]):
            named[r[5]] = named.get(r[5], 0.0) + r[3]

    notices: list[str] = []

    @event.listens_for(db.engine, "connect")
    def _explain(dbapi_conn, _record):
        dbapi_conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        cur = dbapi_conn.cursor()
        for s in ("LOAD 'auto_explain'", f"SET auto_explain.log_min_duration = '{spec['explain_ms']}ms'",
                  "SET auto_explain.log_analyze = on", "SET auto_explain.log_buffers = on",
                  "SET auto_explain.log_triggers = on", "SET auto_explain.log_nested_statements = on",
                  "SET auto_explain.log_level = notice"):
            cur.execute(s)
        cur.close()
        dbapi_conn.commit()

    _empty(db)
    db.engine.dispose()
    explained, _, digests2 = _inproc_rep(db, stmts, runs, period, people)
    event.remove(db.engine, "connect", _explain)
    db.engine.dispose()
    return {"seconds": secs, "statements": sql, "digests": [digests, digests2], "explained_seconds": explained,
            "tottime": [r[:4] for r in own], "ours": [r[:4] for r in ours], "named": named,
            "total": sum(r[2] for r in rows), "explain": notices}


def w_http(app, db, stmts, spec) -> dict:
    """The same through the API with bearer tokens (Flask test client)."""
    from sqlalchemy import delete
    from campaign.accounts import services as accounts
    from campaign.accounts.models import ApiToken, Staff
    db.session.execute(delete(ApiToken).where(ApiToken.label == TOKEN_LABEL))
    tokens = {role: accounts.create_token(db.session.get(Staff, sid), label=TOKEN_LABEL, actor_id=None)
              for role, sid in spec["people"].items()}
    db.session.commit()
    db.session.remove()
    mgr = {"Authorization": f"Bearer {tokens['manager']}"}
    pay = {"Authorization": f"Bearer {tokens['payroll']}"}
    client = app.test_client()
    out = {"reps": [], "warmup": None, "digests": [], "errors": [], "bytes": {}}

    def call(rep, name, method, path, headers, want, **kw):
        stmts.take()
        t = time.perf_counter()
        resp = getattr(client, method)(path, headers=headers, **kw)
        rep["seconds"][name] = time.perf_counter() - t
        rep["statements"][name] = stmts.take()
        if resp.status_code != want:
            out["errors"].append(f"{method.upper()} {path}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
        return resp

    for i in range(spec["repeat"] + 1):
        _empty(db)
        rep = {"seconds": {}, "statements": {}}
        out["digests"].append({"csv": [], "xlsx": []})
        r = call(rep, "compute", "post", "/api/v1/bonus-runs", mgr, 201, json={"period": spec["period"]})
        run_id = r.get_json()["id"]
        out["lines_in_response"] = len(r.get_json().get("statements", []))
        call(rep, "approve", "post", f"/api/v1/bonus-runs/{run_id}/approve", mgr, 200)
        for name, fmt in (("export_csv", "csv"), ("reexport_xlsx", "xlsx")):
            r = call(rep, name, "get", f"/api/v1/bonus-runs/{run_id}/export.{fmt}", pay, 200)
            digest = hashlib.sha256(r.data).hexdigest()
            if r.headers.get("X-Content-SHA256") != digest:
                out["errors"].append(f"export.{fmt}: X-Content-SHA256 {r.headers.get('X-Content-SHA256')} ≠ "
                                     f"sha256 of the body {digest}")
            out["digests"][-1][fmt].append(digest)
            out["bytes"][fmt] = len(r.data)
        if i == 0:
            out["warmup"] = rep
        else:
            out["reps"].append(rep)
    db.session.execute(delete(ApiToken).where(ApiToken.label == TOKEN_LABEL))
    db.session.commit()
    return out


def w_next_month(app, db, stmts, spec) -> dict:
    """Lock the previous month, then time the month's run + export."""
    from sqlalchemy import func, select
    from campaign.bonuses import runs
    from campaign.bonuses.models import BonusAdjustment
    from campaign.scoring.rules import Period
    period, prev, people = Period.parse(spec["period"]), Period.parse(spec["prev"]), spec["people"]
    out = {"reps": [], "warmup": None, "digests": [], "adjustments": []}
    for i in range(spec["repeat"] + 1):
        _empty(db)
        before, before_sql, _ = _inproc_rep(db, stmts, runs, prev, people)  # the previous month, locked
        secs, sql, digests = _inproc_rep(db, stmts, runs, period, people)
        out["adjustments"].append(db.session.scalar(select(func.count()).select_from(BonusAdjustment)))
        db.session.remove()
        out["digests"].append(digests)
        rep = {"seconds": secs, "statements": sql, "prev_seconds": before, "prev_statements": before_sql}
        if i == 0:
            out["warmup"] = rep
        else:
            out["reps"].append(rep)
    return out


def w_history(app, db, stmts, spec) -> dict:
    """Every earlier month of the data locked in turn, then the month's run:
    what the corrections check costs as locked months pile up."""
    from sqlalchemy import func, select
    from campaign.bonuses import runs
    from campaign.bonuses.models import BonusAdjustment
    from campaign.scoring.rules import Period
    period, people = Period.parse(spec["period"]), spec["people"]
    out = {"reps": [], "warmup": None, "digests": [], "adjustments": []}
    for i in range(spec["repeat"] + 1):
        _empty(db)
        for label in spec["history"]:
            _inproc_rep(db, stmts, runs, Period.parse(label), people)
        secs, sql, digests = _inproc_rep(db, stmts, runs, period, people)
        out["adjustments"].append(db.session.scalar(select(func.count()).select_from(BonusAdjustment)))
        db.session.remove()
        out["digests"].append(digests)
        rep = {"seconds": secs, "statements": sql}
        if i == 0:
            out["warmup"] = rep
        else:
            out["reps"].append(rep)
    return out


WORKERS = {"rebuild": w_rebuild, "setup": w_setup, "inproc": w_inproc, "http": w_http, "next_month": w_next_month,
           "history": w_history}


def worker() -> None:
    spec = json.loads(sys.stdin.read())
    from campaign import create_app
    from campaign.extensions import db
    app = create_app()  # DATABASE_URL (the bench database) from the environment
    with app.app_context():
        stmts = Statements(db.engine)
        stmts.on = True
        out = WORKERS[spec["scenario"]](app, db, stmts, spec)
    print("BENCH_JSON " + json.dumps(out, default=str))


# ------------------------------------------------------------------ the run

def _sum_phases(rep: dict) -> float:
    return sum(rep["seconds"][p] for p in PHASES)


def bench(url: str, small: bool = False, regen: bool = False, repeat: int = 3, quiet_wait: float | None = None,
          profile: bool = True, explain_ms: int = 50) -> dict:
    url = bench_scores.size_url(url, small)
    size_name = "small" if small else "full"
    quiet_wait = (0.0 if small else 30.0) if quiet_wait is None else quiet_wait
    t_all = time.perf_counter()
    checks: list[tuple[str, bool, str]] = []
    mismatches: list[str] = []
    meta, generated = bench_scores.ensure_data(url, size_name, regen)

    # Roll-ups: generation leaves them empty; build them once (the scores
    # benchmark's own runs leave them built).
    state = rollup_state(url)
    rebuilt = None
    if state["conversions"] == 0 and state["score_days"] == 0:
        log("roll-ups empty (fresh data): scores.rebuild_all() once")
        rebuilt = run_worker(url, {"scenario": "rebuild"}, "rebuild_all")
        with _connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE conversions, score_days, score_items")
        log(f"  rebuilt {rebuilt['pairs']} pairs in {rebuilt['seconds']:.1f} s")
        state = rollup_state(url)

    by_month = months(url)
    key = by_month[0][0]
    prev = previous(key)
    label, prev_label = label_of(key), label_of(prev)
    # Every earlier month with data (the history scenario locks them all).
    history = sorted({m for m, _ in by_month if m < key} | {prev})
    plans = {label_of(k): plan_for(url, k) for k in history + [key]}
    comps = {label_of(k): competitions_for(url, k) for k in history + [key]}
    setup = run_worker(url, {"scenario": "setup", "plans": plans, "competitions": comps}, "setup")
    people = setup["people"]
    log(f"month {label} ({by_month[0][1]:,} outcomes), previous {prev_label}; refresh before timing: "
        f"{setup['refresh']} in {setup['refresh_s']:.2f} s; made {setup['made']}")
    log(f"plan {label}: {plans[label]}")
    with _connect(url) as conn:
        counts = {"outcomes": conn.execute("SELECT count(*) FROM outcomes").fetchone()[0],
                  "agents": conn.execute("SELECT count(*) FROM staff_roles WHERE role = 'agent'").fetchone()[0],
                  "conversions_month": conn.execute("SELECT count(*) FROM conversions WHERE month = %s",
                                                    (key,)).fetchone()[0],
                  "score_days_month": conn.execute("SELECT count(*) FROM score_days WHERE day >= %s AND day < %s",
                                                   bounds(key)).fetchone()[0],
                  "competitions": {m: [list(r) for r in conn.execute(
                      "SELECT kind, side_a, side_b FROM competitions WHERE month = %s ORDER BY id", (k,))]
                      for m, k in ((label, key), (prev_label, prev))}}
    print_before = fingerprint(url)

    # The independent expectation of every month a scenario locks (before anything is timed).
    t = time.perf_counter()
    want = {label_of(k): expected_month(url, k, plans[label_of(k)]) for k in history + [key]}
    expected_s = time.perf_counter() - t
    log(f"independent computation of {len(want)} months: {expected_s:.1f} s")
    floor_s = floor(url, key, repeat)
    log(f"floor (score_days aggregate + copy of {counts['conversions_month']:,} conversions, rolled back): "
        + ", ".join(f"{x:.3f}" for x in floor_s) + " s")

    spec = {"period": label, "prev": prev_label, "people": people, "repeat": repeat, "explain_ms": explain_ms}
    quiet = bench_calls.wait_quiet(quiet_wait) if quiet_wait else None

    # 1. In-process.
    inproc = run_worker(url, {**spec, "scenario": "inproc", "profile": profile}, "in-process runs")
    for i, rep in enumerate([inproc["warmup"]] + inproc["reps"]):
        log(f"  in-process {'warm-up' if i == 0 else f'#{i}'}: " + ", ".join(
            f"{p} {rep['seconds'][p]:.3f}" for p in PHASES) + f" → {_sum_phases(rep):.3f} s")
    c, b = check_run(url, key, want[label], inproc["digests"])
    checks += [(f"in-process: {n}", ok, d) for n, ok, d in c]
    mismatches += b

    # 2. HTTP.
    if quiet_wait:
        bench_calls.wait_quiet(quiet_wait)
    http = run_worker(url, {**spec, "scenario": "http"}, "HTTP runs")
    for i, rep in enumerate([http["warmup"]] + http["reps"]):
        log(f"  HTTP {'warm-up' if i == 0 else f'#{i}'}: " + ", ".join(
            f"{p} {rep['seconds'][p]:.3f}" for p in PHASES) + f" → {_sum_phases(rep):.3f} s")
    checks.append(("HTTP: every answer as expected (201, 200, 200, 200; X-Content-SHA256 = the body's)",
                   not http["errors"], "; ".join(http["errors"][:3]) or "yes"))
    c, b = check_run(url, key, want[label], http["digests"])
    checks += [(f"HTTP: {n}", ok, d) for n, ok, d in c]
    mismatches += b

    # 3. Next month: the previous month locked first.
    if quiet_wait:
        bench_calls.wait_quiet(quiet_wait)
    nxt = run_worker(url, {**spec, "scenario": "next_month"}, "next-month runs")
    for i, rep in enumerate([nxt["warmup"]] + nxt["reps"]):
        log(f"  next month {'warm-up' if i == 0 else f'#{i}'}: lock {prev_label} "
            f"{_sum_phases({'seconds': rep['prev_seconds']}):.3f} s; {label}: " + ", ".join(
                f"{p} {rep['seconds'][p]:.3f}" for p in PHASES) + f" → {_sum_phases(rep):.3f} s")
    checks.append(("next month: no adjustment in any repetition (the locked month's data did not change)",
                   not any(nxt["adjustments"]), f"{nxt['adjustments']}"))
    for k, lab in ((prev, prev_label), (key, label)):
        c, b = check_run(url, k, want[lab], nxt["digests"] if k == key else None)
        checks += [(f"next month: {n}", ok, d) for n, ok, d in c]
        mismatches += b

    # 4. History: every earlier month locked, then the month (when there are two or more).
    hist = None
    if len(history) >= 2:
        if quiet_wait:
            bench_calls.wait_quiet(quiet_wait)
        hist = run_worker(url, {**spec, "scenario": "history", "history": [label_of(k) for k in history]},
                          "history runs")
        for i, rep in enumerate([hist["warmup"]] + hist["reps"]):
            log(f"  {len(history)} months locked {'warm-up' if i == 0 else f'#{i}'}: " + ", ".join(
                f"{p} {rep['seconds'][p]:.3f}" for p in PHASES) + f" → {_sum_phases(rep):.3f} s")
        checks.append((f"history: no adjustment in any repetition ({len(history)} locked months)",
                       not any(hist["adjustments"]), f"{hist['adjustments']}"))
        for k in history + [key]:
            c, b = check_run(url, k, want[label_of(k)], hist["digests"] if k == key else None)
            checks += [(f"history: {n}", ok, d) for n, ok, d in c]
            mismatches += b

    print_after = fingerprint(url)
    checks.append(("outcomes, conversions, score_days and visits unchanged by the bench",
                   print_before == print_after,
                   "yes" if print_before == print_after else f"{print_before} → {print_after}"))
    # Leave no bonus rows behind (the scores benchmark never reads them; plans,
    # competitions and the two people stay for the next run).
    with _connect(url) as conn:
        for table in BONUS_TABLES:
            conn.execute(f"DELETE FROM {table}")
        conn.commit()

    ok = all(x[1] for x in checks)
    for what, good, got in checks:
        log(f"  check {'ok ' if good else 'FAILED'} {what}: {got}")
    for m in mismatches[:30]:
        log(f"  mismatch: {m}")
    return {"size": size_name, "url": url.rsplit("/", 1)[1], "meta": meta, "explain_ms": explain_ms,
            "generated_now": generated,
            "rebuilt": rebuilt, "rollups": state, "months": by_month, "month": label, "prev": prev_label,
            "plans": plans, "setup": setup, "counts": counts, "expected_s": expected_s, "floor": floor_s,
            "inproc": inproc, "http": http, "next": nxt, "history": hist,
            "history_months": [label_of(k) for k in history], "checks": checks, "mismatches": mismatches, "ok": ok,
            "repeat": repeat, "quiet_before": quiet, "machine": bench_scores.machine(),
            "settings": bench_scores.pg_settings(url), "seconds": time.perf_counter() - t_all,
            "want_summary": {lab: {"paid": sum(1 for x in w["lines"].values() if x["total"]),
                                   "total": sum(x["total"] for x in w["lines"].values()),
                                   "lines": len(w["lines"]), "results": w["results"]} for lab, w in want.items()}}


# ------------------------------------------------------------------ report

def _med(reps: list[dict], phase: str | None = None, key: str = "seconds") -> float:
    return _median([_sum_phases({"seconds": r[key]}) if phase is None else r[key][phase] for r in reps])


def _each(reps: list[dict], phase: str | None = None, key: str = "seconds") -> str:
    xs = [_sum_phases({"seconds": r[key]}) if phase is None else r[key][phase] for r in reps]
    return " / ".join(f"{x:.3f}" for x in xs)


def _stmts(reps: list[dict], phase: str, key: str = "statements") -> str:
    s = reps[-1][key][phase]
    return f"{s['count']} ({1000 * s['sql_s']:.0f} ms)"


def _met(x: float) -> str:
    return "met" if x <= TARGET_S else "**not met**"


def summary_targets(r: dict) -> list[dict]:
    """The issue's bonus target, for the summary at the top of docs/BENCHMARKS.md."""
    ip, h, nx = r["inproc"]["reps"], r["http"]["reps"], r["next"]["reps"]
    worst = max([_med(ip), _med(h), _med(nx)] + ([_med(r["history"]["reps"])] if r["history"] else []))
    fl = _median(r["floor"])
    extra = (f"; {_med(r['history']['reps']):.2f} s with {len(r['history_months'])} months locked"
             if r["history"] else f"; {_med(nx):.2f} s with a locked month")
    return [{"section": "bonus", "size": r["size"], "id": "bonus",
             "target": f"bonus run + payroll export ≤ {TARGET_S:.0f} s ({r['counts']['outcomes']:,} outcomes, "
                       f"{r['counts']['agents']} agents)",
             "measured": f"{_med(ip):.2f} s in-process, {_med(h):.2f} s over HTTP{extra} (medians)",
             "floor": f"{fl:.2f} s (the month's aggregate + copy of its conversions, by hand)",
             "ratio": f"{_med(ip) / fl:.1f}×", "status": "met" if worst <= TARGET_S else "gap",
             "why": "" if worst <= TARGET_S else "see the bonus section's profile"}]


def result_rows(r: dict) -> list[dict]:
    """Rows for scripts/bench.py's table."""
    ip, h, nx = r["inproc"]["reps"], r["http"]["reps"], r["next"]["reps"]
    fl = _median(r["floor"])
    n = f"{r['counts']['outcomes']:,} outcomes / {r['counts']['agents']} agents"
    out = [
        {"figure": f"bonus: run + export {r['month']} in-process ({n}), median of {len(ip)}",
         "value": "compute + approve + export + re-export", "seconds": _med(ip),
         "floor": f"{fl:.2f} s (2 statements)", "floor_seconds": fl,
         "note": f"target ≤ {TARGET_S:.0f} s: {_met(_med(ip))}; each {_each(ip)} s"},
        {"figure": "bonus: the same over HTTP (test client, bearer tokens)", "value": "4 requests",
         "seconds": _med(h), "floor": "—", "floor_seconds": None,
         "note": f"target ≤ {TARGET_S:.0f} s: {_met(_med(h))}; each {_each(h)} s"},
        {"figure": f"bonus: next month's run + export ({r['prev']} locked)", "value": "recomputes the locked month",
         "seconds": _med(nx), "floor": "—", "floor_seconds": None,
         "note": f"compute_run alone {_med(nx, 'compute'):.3f} s; target ≤ {TARGET_S:.0f} s: {_met(_med(nx))}"},
    ]
    if r["history"]:
        hs = r["history"]["reps"]
        out.append({"figure": f"bonus: run + export with {len(r['history_months'])} months locked",
                    "value": "recomputes each", "seconds": _med(hs), "floor": "—", "floor_seconds": None,
                    "note": f"compute_run alone {_med(hs, 'compute'):.3f} s; target ≤ {TARGET_S:.0f} s: "
                            f"{_met(_med(hs))}"})
    return out


def _short(sql: str, n: int = 110) -> str:
    sql = sql.replace("|", "\\|")
    return sql if len(sql) <= n else sql[:n] + "…"


def markdown(r: dict) -> str:
    ip, h, nx = r["inproc"], r["http"], r["next"]
    c, m, s, p = r["counts"], r["machine"], r["settings"], r["plans"][r["month"]]
    lines = [f"## Bonus run + payroll export, {r['month']}: {c['outcomes']:,} outcomes / {c['agents']} agents, "
             "PostgreSQL", ""]
    lines += [f"Seconds; median of {r['repeat']} repetitions after one warm-up, each repetition listed; "
              "statements and their SQL time from the last one.", ""]
    lines += ["| scenario | step | median | each | warm-up | statements (SQL ms) |", "|---|---|---|---|---|---|"]

    def block(name: str, d: dict, labels: dict, key: str = "seconds", skey: str = "statements"):
        for ph in PHASES:
            lines.append(f"| {name} | {labels[ph]} | {_med(d['reps'], ph, key):.3f} | {_each(d['reps'], ph, key)} | "
                         f"{d['warmup'][key][ph]:.3f} | {_stmts(d['reps'], ph, skey)} |")
        tot = _med(d["reps"], None, key)
        lines.append(f"| {name} | **run + export** | **{tot:.3f}** | {_each(d['reps'], None, key)} | "
                     f"{_sum_phases({'seconds': d['warmup'][key]}):.3f} | target ≤ {TARGET_S:.0f} s: {_met(tot)} |")

    block("in-process", ip, PHASE_LABELS)
    block("HTTP", h, HTTP_LABELS)
    block(f"next month: lock {r['prev']} first", nx, PHASE_LABELS, "prev_seconds", "prev_statements")
    block(f"next month: {r['month']} with {r['prev']} locked", nx, PHASE_LABELS)
    if r["history"]:
        block(f"{r['month']} with {', '.join(r['history_months'])} locked", r["history"], PHASE_LABELS)
    fl = r["floor"]
    lines.append(f"| floor | month aggregate over `score_days` + copy of {c['conversions_month']:,} conversions "
                 f"into `bonus_conversions` (by hand, rolled back) | {_median(fl):.3f} | "
                 + " / ".join(f"{x:.3f}" for x in fl) + " | — | 2 + 1 insert of the run row |")
    lines.append("")
    failed = [x for x in r["checks"] if not x[1]]
    lines.append(f"Checks: {len(r['checks']) - len(failed)} of {len(r['checks'])} passed (a failure makes the exit "
                 "status 1); the same check after several scenarios is listed once, with the first one's figures:")
    lines.append("")
    grouped: dict[str, list] = {}
    for what, good, got in r["checks"]:
        scenario, _, rest = what.partition(": ")
        if scenario not in ("in-process", "HTTP", "next month", "history"):
            scenario, rest = "", what
        grouped.setdefault(rest, []).append((scenario, good, got))
    for rest, runs_ in grouped.items():
        bad_ = [x for x in runs_ if not x[1]]
        where = ", ".join(x[0] for x in runs_ if x[0])
        where = f" ({where})" if where else ""
        if bad_:
            lines.append(f"- **FAILED**{where} — {rest}: " + "; ".join(f"{x[0] or 'got'}: {x[2]}" for x in bad_))
        else:
            lines.append(f"- ok{where} — {rest}: {runs_[0][2]}")
    for mm in r["mismatches"][:10]:
        lines.append(f"  - mismatch: `{mm}`")
    lines.append("")
    lines.append("Notes:")
    lines.append("")
    ws = r["want_summary"][r["month"]]
    lines.append(
        f"- The month: {r['month']}, the data's busiest ({r['months'][0][1]:,} outcomes, "
        f"{c['conversions_month']:,} conversions by visit month, {c['score_days_month']:,} `score_days` rows); plan "
        f"({CURRENCY}, minor units): team_per_visit {p['team_per_visit']}, rank_rewards {p['rank_rewards']}, "
        f"min_calls {p['min_calls']} (10th percentile of the agents' calls that month), competition_reward "
        f"{p['competition_reward']}, competition_penalty {p['competition_penalty']}, cap {p['cap']} (the average team "
        f"share of an eligible agent + the competition reward + 100.00); competitions "
        f"{c['competitions'][r['month']]} (kind, side ids) — results {ws['results']}. The run: {ws['lines']} lines, "
        f"{ws['paid']} paid, total {money(ws['total'])} {CURRENCY}.")
    lines.append(
        "- Before timing: " + (f"the roll-ups were empty (freshly generated data), so `scores.rebuild_all()` ran "
                                f"once ({r['rebuilt']['pairs']} pairs, {r['rebuilt']['seconds']:.1f} s); "
                                if r["rebuilt"] else "the roll-ups were built; ")
        + (f"`scores.refresh()` worked off {r['setup']['refresh']} in {r['setup']['refresh_s']:.1f} s"
           if r["setup"]["refresh"].get("marks") else "`scores.refresh()` found nothing to do")
        + (f"; set up now: {r['setup']['made']}" if any(r["setup"]["made"].values()) else "")
        + ". Before every repetition the four bonus tables are emptied and vacuumed (untimed); each scenario runs "
          "in a fresh process (the warm-up pays imports and SQL compilation).")
    lines.append(
        f"- HTTP: Flask test client in the worker process (no network, no gunicorn), `Authorization: Bearer` of "
        f"`{MANAGER[0]}` (manager: compute, approve) and `{PAYROLL[0]}` (payroll: exports); the compute answer "
        f"carries all {h.get('lines_in_response', '?')} agents' statement lines; files "
        f"{h['bytes'].get('csv', 0):,} B CSV, "
        f"{h['bytes'].get('xlsx', 0):,} B XLSX.")
    lines.append(
        f"- Next month: `compute_run({r['month']})` with {r['prev']} locked recomputes {r['prev']} from the roll-ups "
        f"(`pending_adjustments` → `compute_month`) to find corrections; adjustments found per repetition: "
        f"{nx['adjustments']}" + (f"; with {', '.join(r['history_months'])} locked: {r['history']['adjustments']}"
                                  if r["history"] else "") + ".")
    lines += analysis(r)
    lines.append(
        f"- Correctness: the independent expectation ({r['expected_s']:.1f} s for {len(r['want_summary'])} months) "
        "is one hand-written "
        "statement over `outcomes` and `conversions` (standing outcomes, first reach per agent / campaign / client, "
        "conversions by visit date) and SPEC §8 in plain Python in `scripts/bench_bonus.py` (not `rules.py`); the "
        "exported CSV is parsed and compared with both the lines and that expectation, the XLSX read back with "
        "openpyxl and compared with the CSV.")
    meta = r["meta"]
    lines.append(
        f"- Data: `{r['url']}` ({r['size']}; the scores benchmark's, "
        + ("generated by this run" if r["generated_now"] else "reused") + f"; generated set-based in "
        f"{meta['seconds']:.0f} s). Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python "
        f"{m['python']}; PostgreSQL {s['server']}: " + ", ".join(f"{k} {s[k]}" for k in bench_scores.PG_SETTINGS)
        + (f"; before the runs the machine was {r['quiet_before']:.0%} busy" if r["quiet_before"] is not None
           else "") + f". Whole run {r['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def _stmt(top: list, prefix: str) -> tuple[float, int, int]:
    """(seconds, executions, rows) of a phase's statements starting with ``prefix``."""
    rows = [x for x in top if x[0].startswith(prefix)]
    return sum(x[2] for x in rows), sum(x[1] for x in rows), sum(x[3] for x in rows)


def analysis(r: dict) -> list[str]:
    """Where the time goes, from this run's own figures; then the evidence
    behind the proposed changes (measured once, dated)."""
    ip = r["inproc"]
    last = ip["reps"][-1]
    out = []
    comp, comp_sql = last["seconds"]["compute"], last["statements"]["compute"]
    copy_s, _, copy_rows = _stmt(comp_sql["top"], "INSERT INTO bonus_conversions")
    agg_s, _, _ = _stmt(comp_sql["top"], "SELECT score_days.staff_id")
    out.append(
        f"- `compute_run` ({comp:.3f} s in the last repetition, {comp_sql['count']} statements): "
        f"{comp_sql['sql_s']:.3f} s is SQL, and {copy_s:.3f} s of that ({copy_s / comp:.0%} of the step) is one "
        f"statement, the copy of the month's {copy_rows:,} conversions into `bonus_conversions` (the floor's "
        f"same copy with the month's aggregate: {_median(r['floor']):.3f} s); the month's aggregate over "
        f"`score_days` takes {agg_s:.3f} s; the rules, the {r['want_summary'][r['month']]['lines']}-line insert and "
        f"the rest "
        f"{comp - copy_s - agg_s:.3f} s. The statement count does not grow with the data.")
    ex, ex_sql = last["seconds"]["export_csv"], last["statements"]["export_csv"]
    prof = ip.get("profile")
    named = prof["named"] if prof else {}
    out.append(
        f"- The first export ({ex:.3f} s): {ex_sql['count']} statements, {ex_sql['sql_s']:.3f} s of SQL; the rest "
        "is rendering the two files" + (
            f" — under cProfile `render_xlsx` {named.get('render_xlsx', 0):.3f} s (of it openpyxl's "
            f"`Worksheet.max_row` / `max_column`, which scan every cell on each call, "
            f"{named.get('max_row', 0) + named.get('max_column', 0):.3f} s), `render_csv` "
            f"{named.get('render_csv', 0):.3f} s" if prof else "") + ". Approve and a re-export (stored bytes) are "
        f"{last['seconds']['approve'] * 1000:.0f} and {last['seconds']['reexport_xlsx'] * 1000:.0f} ms.")
    # The corrections check: compute_run's median against the number of locked months it recomputes.
    points = [(0, _med(ip["reps"], "compute")), (1, _med(r["next"]["reps"], "compute"))]
    if r["history"]:
        points.append((len(r["history_months"]), _med(r["history"]["reps"], "compute")))
    n_max, t_max = points[-1]
    slope = (t_max - points[0][1]) / n_max
    nx = r["next"]["reps"][-1]
    out.append(
        "- Corrections: every run recomputes each locked month (`pending_adjustments` → `compute_month`, "
        f"{nx['statements']['compute']['count'] - comp_sql['count']} more statements for one) to compare it with "
        "what was paid. `compute_run` medians by locked months: " + ", ".join(f"{n}: {t:.3f} s" for n, t in points)
        + f" — about {slope * 1000:.0f} ms per locked month, so after a year of locked runs the run alone would "
        f"take about {points[0][1] + 12 * slope:.1f} s and run + export about "
        f"{_med(ip['reps']) + 12 * slope:.1f} s (two years: {_med(ip['reps']) + 24 * slope:.1f} s), against "
        f"{TARGET_S:.0f} s.")
    h = r["http"]["reps"][-1]
    out.append(
        f"- HTTP adds {(_med(r['http']['reps']) - _med(ip['reps'])) * 1000:.0f} ms in all (median against median): "
        f"the token look-up per request and the compute answer's JSON with every agent's line "
        f"({h['statements']['compute']['count']} SQL statements in `POST /bonus-runs` against {comp_sql['count']}).")
    if prof:
        out.append(f"- Profiled repetition (cProfile; {_sum_phases(prof):.3f} s with the profiler's overhead): "
                   "app functions by cumulative time " + ", ".join(
                       f"`{name}` {ct:.3f} s" for name, _, _, ct in prof["ours"][:7]) + "; by own time " + ", ".join(
                       f"`{name}` {tt:.3f} s" for name, _, tt, _ in prof["tottime"][:5]) + ".")
        slow = [n for n in prof["explain"] if "Query Text" in n]
        if slow:
            out.append(f"- Statements over {r['explain_ms']} ms in a repetition with auto_explain (ANALYZE, "
                       "triggers) on: " + "; ".join(
                           next((x.strip() for x in n.splitlines() if x.startswith("duration")), "?") + " `"
                           + _short(n.split("Query Text:", 1)[1].strip().splitlines()[0], 70) + "` → "
                           + bench_scores._plan_nodes(n, 3)
                           + "".join(f", {x.strip()}" for x in n.splitlines() if x.strip().startswith("Trigger"))
                           for n in slow[:3]) + ".")
    out.append(
        "- Evidence behind the proposals (full size, this machine, 2026-11-30, code as of bf90645): (1) "
        "`exports.render_xlsx` sets each row's number format through `ws[ws.max_row]`; openpyxl computes "
        "`max_row` and then `max_column` (inside `ws[row]`) over every cell written so far, so the export is "
        "quadratic in the agents: 458 rows 134 ms, 2,000 rows 1.57 s, 5,000 rows 8.2 s as written, against 67 ms, "
        "0.27 s and 0.74 s with `ws.cell(row=i, column=c).number_format = fmt` (same `sheet1.xml`, byte for byte). "
        "(2) The copy into `bonus_conversions` (52,375 rows, EXPLAIN ANALYZE): 295–305 ms, of which the foreign "
        "key `fk_bonus_conversions_run_id_bonus_runs` is a per-row trigger, 147–149 ms for 52,375 calls; without "
        "the constraint (dropped inside a rolled-back transaction) 149–167 ms.")
    return out


def main() -> None:
    if "--worker" in sys.argv:
        worker()
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="50,000 outcomes / 100 agents (CI)")
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_SCORES_DATABASE_URL", DEFAULT_PG))
    ap.add_argument("--regen", action="store_true", help="generate the data again")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions per scenario (after one warm-up)")
    ap.add_argument("--quiet-wait", type=float, default=None,
                    help="seconds to wait for other processes to calm down before each scenario (30 full, 0 small)")
    ap.add_argument("--no-profile", action="store_true", help="skip the profiled repetition")
    ap.add_argument("--explain-ms", type=int, default=50, help="auto_explain threshold of the profiled repetition")
    args = ap.parse_args()
    r = bench(args.pg_url, small=args.small, regen=args.regen, repeat=args.repeat, quiet_wait=args.quiet_wait,
              profile=not args.no_profile, explain_ms=args.explain_ms)
    print()
    print(markdown(r))
    sys.exit(0 if r["ok"] else 1)


if __name__ == "__main__":
    main()
