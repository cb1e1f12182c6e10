#!/usr/bin/env python
"""Winback benchmark harness: every figure beside its floor, in one run.

Prints a table (figure, floor, ratio) and writes docs/BENCHMARKS.md.

    python scripts/bench.py                # everything below, full size
    python scripts/bench.py --small        # CI sizes (imports: 100,000 rows; launch: 20,000 clients; calls: short runs;
                                           #   scores: 50,000 outcomes)
    python scripts/bench.py --only import  # just the imports (1,000,000-row visits, SQLite and PostgreSQL)
    python scripts/bench.py --only assign  # just the campaign launch (1M clients / 10M visits / 500 agents)
    python scripts/bench.py --only calls   # just next client / outcome over HTTP (200k clients / 200 agents)
    python scripts/bench.py --only scores  # just leaderboards / full rebuild / attribution (1M outcomes, 1M-visit import)
    python scripts/bench.py --only bonus   # just a month's bonus run + payroll export (1M outcomes / 500 agents)

Measured now:
* import of a visits CSV through ``flask --app wsgi import visits FILE`` (a
  fresh process per run, so its peak RSS is the import's own), first load and
  idempotent re-load, on SQLite and on PostgreSQL; floor: a raw load of the same
  file (PostgreSQL ``COPY`` into an untyped table; SQLite ``executemany`` of the
  parsed rows in one transaction).
* a campaign launch on PostgreSQL (segmentation + contact policy + holdout +
  assignment, one ``campaign_items`` row per eligible client) through
  ``assignment.run`` in its own process; floor: one hand-written
  ``INSERT … SELECT`` doing the same work naively. See scripts/bench_assign.py
  (data generated set-based once, reused while its parameters hold).
* "next client" and "log outcome" over HTTP on gunicorn + PostgreSQL, open
  loop (200 agents clicking every 20 s, and 10× that) and closed loop (50 and
  200 agents as fast as they can): p50/p95/p99 latencies, claims/s,
  outcomes/s, errors and a correctness check in SQL (no item handed out
  twice); floor: a bare Flask app on the same gunicorn command line, same
  load. See scripts/bench_calls.py (its own database, winback_bench_calls,
  rebuilt every run). A failed correctness check makes the exit status 1.
* scores (SPEC §7) on PostgreSQL, 1,000,000 outcomes / ~100,000 conversions
  (``--small``: 50,000 / ~5,000): the full ``scores.rebuild_all()`` beside
  three hand-written statements; leaderboard reads in-process (agent, team,
  month, campaign + month boards, the daily trend; p50/p95/max, target ≤ 100
  ms), ``services.board()`` after one logged outcome's mark and after a burst
  of marks, and ``GET /api/v1/leaderboard`` over HTTP on gunicorn beside a
  bare Flask app serving the floor statement; floor: one statement over the
  roll-ups (and the naive aggregate over the outcomes for information); a
  1,000,000-row visits import (``import_path``) then ``scores.refresh()``,
  timed apart, beside COPY and a one-statement attribution of every client.
  See scripts/bench_scores.py (database winback_bench_scores, or
  winback_bench_scores_small; data generated set-based once and reused).
  Conversions differing from the floor's, or leaderboards differing from
  sums straight from outcomes/conversions, make the exit status 1.
* a month's bonus run + payroll export (SPEC §8) on PostgreSQL over the
  scores data (the same database; 500 agents / 1,000,000 outcomes, ``--small``
  100 / 50,000), target ≤ 2 s: ``runs.compute_run``, ``approve``, the first
  export (locks, renders CSV + XLSX) and a re-export, in-process and over
  the API with bearer tokens, and the next month's run with the previous
  month locked (it recomputes that month for corrections); median of 3
  after a warm-up, each listed; floor: the month's aggregate over
  ``score_days`` and the copy of its conversions, by hand. See
  scripts/bench_bonus.py. Lines differing from an independent computation
  of SPEC §8 straight from outcomes/conversions, an export differing from
  the lines or from its SHA-256, or any write to the data make the exit
  status 1.

``--only`` rewrites only its own section of docs/BENCHMARKS.md and keeps the other.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/winback_bench"

STORES = [("B-TYO", "Tokyo", "Asia/Tokyo", "JP", "JPY"), ("B-WAW", "Warsaw", "Europe/Warsaw", "PL", "PLN"),
          ("B-MOW", "Moscow", "Europe/Moscow", "RU", "RUB"), ("B-SHA", "Shanghai", "Asia/Shanghai", "CN", "CNY"),
          ("B-LON", "London", "Europe/London", "GB", "GBP")]


def make_files(folder: Path, visits: int) -> dict[str, Path]:
    """Deterministic stores/clients/visits files (10 visits per client on average)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"{k}-{visits}.csv" for k in ("stores", "clients", "visits")}
    if all(p.exists() for p in paths.values()):
        return paths
    rnd = random.Random(42)
    with paths["stores"].open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["store_code", "name", "timezone", "country", "currency"])
        w.writerows([s[0], s[1], s[2], s[3], s[4]] for s in STORES)
    n_clients = max(1, visits // 10)
    with paths["clients"].open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["client_ref", "first_name", "last_name", "phone", "email", "language", "store_code",
                    "consent_call", "consent_sms", "consent_email", "consent_post", "do_not_contact", "notes"])
        for i in range(n_clients):
            w.writerow([f"BC{i:08d}", f"Anna{i}", "Nowak", f"+48 5{rnd.randrange(10**7, 10**8):08d}",
                        f"c{i}@example.test", "pl", STORES[i % len(STORES)][0], "1", "1", "0", "1", "0", ""])
    start = datetime(2023, 1, 1, 9)
    with paths["visits"].open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["visit_ref", "client_ref", "store_code", "visited_at", "service", "amount", "status", "served_by"])
        for i in range(visits):
            c = rnd.randrange(n_clients)
            at = start + timedelta(minutes=rnd.randrange(0, 3 * 365 * 24 * 60))
            status = "completed" if rnd.random() > 0.08 else rnd.choice(("no_show", "cancelled"))
            store = STORES[c % len(STORES)]
            # JPY has no minor unit; the others use the decimal comma.
            amount = (str(rnd.randrange(3000, 12000)) if store[4] == "JPY"
                      else f"{rnd.randrange(50, 400)},{rnd.randrange(0, 100):02d}")
            w.writerow([f"BV{i:09d}", f"BC{c:08d}", store[0], at.strftime("%Y-%m-%dT%H:%M"),
                        "foot massage", amount, status, ""])
    return paths


_MEASURED = ("import atexit, resource, sys\n"
             "atexit.register(lambda: print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
             " file=sys.stderr))\n"
             "from flask.cli import main\n"
             "sys.argv = ['flask'] + sys.argv[1:]\n"
             "main()\n")


def run_import(env: dict, kind: str, path: Path) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, summary line) of one CLI import in its own process."""
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", _MEASURED, "--app", "wsgi", "import", kind, str(path)], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"import {kind} failed:\n{proc.stdout}\n{proc.stderr}")
    peak_kb = int(next(line.split()[1] for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB")))
    return seconds, peak_kb / 1024, proc.stdout.strip().splitlines()[-1]


def fresh_schema(env: dict) -> None:
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    else:
        import psycopg
        admin = url.rsplit("/", 1)[0] + "/postgres"
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    subprocess.run([PY, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def floor_pg(url: str, path: Path) -> float:
    import psycopg
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        conn.execute("CREATE UNLOGGED TABLE bench_floor (visit_ref text, client_ref text, store_code text, "
                     "visited_at text, service text, amount text, status text, served_by text)")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_floor FROM STDIN WITH (FORMAT csv, HEADER true)") as cp, \
                path.open("rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_floor")
        conn.commit()
    return seconds


def floor_sqlite(folder: Path, path: Path) -> float:
    import sqlite3
    db = folder / "floor.sqlite"
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE bench_floor (visit_ref, client_ref, store_code, visited_at, service, amount, "
                 "status, served_by)")
    t0 = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        conn.executemany("INSERT INTO bench_floor VALUES (?,?,?,?,?,?,?,?)", reader)
    conn.commit()
    seconds = time.perf_counter() - t0
    conn.close()
    db.unlink(missing_ok=True)
    return seconds


def bench_import(name: str, url: str, files: dict[str, Path], rows: int, folder: Path) -> list[dict]:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("REDIS_URL", None)
    fresh_schema(env)
    run_import(env, "stores", files["stores"])
    c_secs, _, _ = run_import(env, "clients", files["clients"])
    v_secs, v_peak, v_line = run_import(env, "visits", files["visits"])
    r_secs, r_peak, r_line = run_import(env, "visits", files["visits"])
    floor = floor_pg(url, files["visits"]) if url.startswith("postgresql") else floor_sqlite(folder, files["visits"])
    size_mib = files["visits"].stat().st_size / 2**20
    return [
        {"figure": f"{name}: import {rows:,} visits (first load)", "value": f"{rows / v_secs:,.0f} rows/s",
         "seconds": v_secs, "floor": f"{rows / floor:,.0f} rows/s", "floor_seconds": floor,
         "note": f"{v_line}; peak RSS {v_peak:.0f} MiB for a {size_mib:.0f} MiB file"},
        {"figure": f"{name}: re-import the same file (idempotent)", "value": f"{rows / r_secs:,.0f} rows/s",
         "seconds": r_secs, "floor": f"{rows / floor:,.0f} rows/s", "floor_seconds": floor,
         "note": f"{r_line}; peak RSS {r_peak:.0f} MiB"},
        {"figure": f"{name}: import {rows // 10:,} clients", "value": f"{rows / 10 / c_secs:,.0f} rows/s",
         "seconds": c_secs, "floor": "—", "floor_seconds": None, "note": "phone normalisation per row"},
    ]


def render(results: list[dict], args) -> str:
    lines = ["| figure | measured | floor | ratio | notes |", "|---|---|---|---|---|"]
    for r in results:
        ok = r.get("seconds") is not None
        ratio = r.get("ratio") or (f"{r['seconds'] / r['floor_seconds']:.1f}×" if ok and r.get("floor_seconds")
                                   else "—")
        measured = f"{r['value']} ({r['seconds']:.1f} s)" if ok else r["value"]
        lines.append(f"| {r['figure']} | {measured} | {r['floor']} | {ratio} | {r['note']} |")
    return "\n".join(lines)


SECTION = "<!-- bench:{} -->"
SECTION_NAMES = ("import", "assign", "calls", "scores", "bonus")


def _sections(text: str) -> dict[str, str]:
    """{name: body} of the marked sections of an existing BENCHMARKS.md; a file
    from before the markers is all import section."""
    out = {}
    for name in SECTION_NAMES:
        start, end = SECTION.format(name), SECTION.format("/" + name)
        if start in text and end in text:
            out[name] = text.split(start, 1)[1].split(end, 1)[0].strip("\n")
    if not out and text.strip():
        body = text.split("\n| figure |", 1)
        if len(body) == 2:
            out["import"] = "## Imports\n\n| figure |" + body[1].rstrip("\n")
    return out


def import_section(results: list[dict], args) -> str:
    return ("## Imports\n\n" + render(results, args) + "\n\nPeak RSS is the importing process's maximum "
            "resident set (it includes the Python interpreter and the app, about 60–80 MiB on its own); it "
            "stays flat as files grow because imports stream in batches.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="CI sizes: 100,000 visits to import; 20,000 clients "
                    "/ 200,000 visits / 50 agents to launch a campaign over; calls: 20,000 clients / 100 agents, "
                    "runs of a few seconds; scores: 50,000 outcomes / ~5,000 conversions / a 50,000-visit import; "
                    "bonus: 50,000 outcomes / 100 agents")
    ap.add_argument("--only", choices=SECTION_NAMES, help="run one benchmark (default: all)")
    ap.add_argument("--rows", type=int, default=None, help="visits rows to import (default 1,000,000)")
    ap.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    ap.add_argument("--no-pg", action="store_true", help="imports: skip PostgreSQL (and the launch benchmark)")
    ap.add_argument("--no-sqlite", action="store_true", help="imports: skip SQLite")
    ap.add_argument("--data", default=str(ROOT / "bench-data"))
    ap.add_argument("--repeat", type=int, default=None, help="launch: runs of app and floor (default 2; small 3)")
    ap.add_argument("--regen", action="store_true", help="launch, scores and bonus: generate their data again")
    ap.add_argument("--profile", action="store_true", help="launch: one more app run with auto_explain plans")
    ap.add_argument("--work-mem", default="256MB", help="launch: work_mem of the measured sessions ('' = server's)")
    ap.add_argument("--calls-pg-url", default=os.environ.get("BENCH_CALLS_DATABASE_URL"),
                    help="calls: its database (default: winback_bench_calls on the --pg-url server)")
    ap.add_argument("--calls-quiet-wait", type=float, default=None,
                    help="calls: seconds to wait before each run for other processes to calm down "
                         "(default 120; small 0)")
    ap.add_argument("--scores-pg-url", default=os.environ.get("BENCH_SCORES_DATABASE_URL"),
                    help="scores: its database (default: winback_bench_scores on the --pg-url server; "
                         "--small adds _small to the name)")
    ap.add_argument("--scores-quiet-wait", type=float, default=None,
                    help="scores: seconds to wait for other processes to calm down before the reads "
                         "(default 60; small 0)")
    ap.add_argument("--bonus-pg-url", default=os.environ.get("BENCH_BONUS_DATABASE_URL"),
                    help="bonus: its database (default: the scores one, --scores-pg-url or winback_bench_scores on "
                         "the --pg-url server; --small adds _small to the name)")
    ap.add_argument("--bonus-repeat", type=int, default=3, help="bonus: timed repetitions per scenario (default 3)")
    ap.add_argument("--bonus-quiet-wait", type=float, default=None,
                    help="bonus: seconds to wait for other processes to calm down before each scenario "
                         "(default 30; small 0)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = ap.parse_args()
    out = Path(args.out)
    sections = _sections(out.read_text(encoding="utf-8")) if out.exists() else {}
    results: list[dict] = []

    if args.only in (None, "import"):
        rows = args.rows or (100_000 if args.small else 1_000_000)
        folder = Path(args.data)
        t0 = time.perf_counter()
        files = make_files(folder, rows)
        print(f"data: {files['visits']} ({files['visits'].stat().st_size / 2**20:.0f} MiB) "
              f"ready in {time.perf_counter() - t0:.1f} s", flush=True)
        imports: list[dict] = []
        if not args.no_sqlite:
            imports += bench_import("SQLite", f"sqlite:///{folder / 'bench.sqlite'}", files, rows, folder)
            print(render(imports, args), flush=True)
        if not args.no_pg:
            imports += bench_import("PostgreSQL", args.pg_url, files, rows, folder)
        results += imports
        sections["import"] = import_section(imports, args)

    if args.only in (None, "assign") and not args.no_pg:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_assign
        launch = bench_assign.bench(args.pg_url, small=args.small, repeat=args.repeat, regen=args.regen,
                                    profile=args.profile, work_mem=args.work_mem)
        results += bench_assign.result_rows(launch)
        sections["assign"] = bench_assign.markdown(launch).rstrip("\n")
        if launch.get("profile"):
            for st in bench_assign.top_statements(launch["profile"]["statements"], 5):
                print(f"--- {st['seconds']:.2f} s, {st['rows']} rows\n{st['sql']}\n")
            for n in launch["profile"]["notices"]:
                print(n)

    calls_ok = True
    if args.only in (None, "calls") and not args.no_pg:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_calls
        calls = bench_calls.bench(args.calls_pg_url or args.pg_url.rsplit("/", 1)[0] + "/winback_bench_calls",
                                  small=args.small, quiet_wait=args.calls_quiet_wait)
        results += bench_calls.result_rows(calls)
        sections["calls"] = bench_calls.markdown(calls).rstrip("\n")
        calls_ok = calls["ok"]

    scores_ok = True
    if args.only in (None, "scores") and not args.no_pg:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_scores
        scores = bench_scores.bench(args.scores_pg_url or args.pg_url.rsplit("/", 1)[0] + "/winback_bench_scores",
                                    small=args.small, regen=args.regen, quiet_wait=args.scores_quiet_wait,
                                    data_dir=Path(args.data))
        results += bench_scores.result_rows(scores)
        sections["scores"] = bench_scores.markdown(scores).rstrip("\n")
        scores_ok = scores["ok"]

    bonus_ok = True
    if args.only in (None, "bonus") and not args.no_pg:
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_bonus
        bonus = bench_bonus.bench(args.bonus_pg_url or args.scores_pg_url
                                  or args.pg_url.rsplit("/", 1)[0] + "/winback_bench_scores",
                                  # With every benchmark, the scores one has just regenerated the same data.
                                  small=args.small, regen=args.regen and args.only == "bonus",
                                  repeat=args.bonus_repeat,
                                  quiet_wait=args.bonus_quiet_wait)
        results += bench_bonus.result_rows(bonus)
        sections["bonus"] = bench_bonus.markdown(bonus).rstrip("\n")
        bonus_ok = bonus["ok"]

    print(render(results, args))
    cpu = os.cpu_count()
    how = "python scripts/bench.py" + (" --small" if args.small else "") + (f" --only {args.only}" if args.only else "")
    body = "\n\n".join(f"{SECTION.format(name)}\n{sections[name]}\n{SECTION.format('/' + name)}"
                       for name in SECTION_NAMES if name in sections)
    doc = (f"# Benchmarks\n\nWritten by `{how}` on {date.today().isoformat()} ({cpu} cores, Python "
           f"{sys.version.split()[0]}); a section another command wrote is kept as it was. Each figure stands "
           "beside its floor measured in the same run; ratio = our time / floor time.\n\n" + body + "\n")
    out.write_text(doc, encoding="utf-8")
    print(f"wrote {args.out}")
    failed = [name for name, ok in (("calls", calls_ok), ("scores", scores_ok), ("bonus", bonus_ok)) if not ok]
    if failed:
        sys.exit(f"{', '.join(failed)}: a correctness check failed (see its section); timing targets never fail "
                 "the run")


if __name__ == "__main__":
    main()
