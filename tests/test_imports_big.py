"""A large visits file streams in constant memory (SPEC §2.1 "large files stream")."""
from __future__ import annotations

import random
import time
import tracemalloc
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaign.clients.models import Visit
from campaign.extensions import db
from campaign.imports import services

from .test_imports import DATA, HEADERS

ROWS = 200_000
CLIENTS = 2_000
STORES = ("WAW", "TYO", "MOW", "SHA", "LON")


def _write_files(folder):
    rnd = random.Random(11)
    clients = folder / "clients.csv"
    with clients.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADERS["clients"] + "\n")
        for i in range(CLIENTS):
            f.write(f"C{i:06d},Anna,Nowak,,,pl,{STORES[i % 5]},1,1,0,0,0,\n")
    visits = folder / "visits.csv"
    start = datetime(2024, 1, 1, 9)
    with visits.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADERS["visits"].replace(",", ";") + "\n")
        for i in range(ROWS):
            c = rnd.randrange(CLIENTS)
            at = start + timedelta(minutes=rnd.randrange(0, 2 * 365 * 24 * 60))
            amount = f"{rnd.randrange(1, 400)}" if STORES[c % 5] == "TYO" else f"{rnd.randrange(50, 400)},{rnd.randrange(100):02d}"
            f.write(f"V{i:08d};C{c:06d};{STORES[c % 5]};{at:%Y-%m-%dT%H:%M};foot massage 45 min;{amount};"
                    f"{'completed' if i % 13 else 'no_show'};T-{c % 7}\n")
        f.write("V-bad;C-nobody;WAW;2026-01-01;x;1;;\n")
    return clients, visits


@pytest.mark.slow  # about a minute: tracemalloc slows every allocation several times
def test_a_large_visits_file_streams_in_constant_memory(ctx, tmp_path, monkeypatch):
    clients, visits = _write_files(tmp_path)
    assert services.import_path("stores", str(DATA / "stores.csv"))["inserted"] == 5
    assert services.import_path("clients", str(clients))["inserted"] == CLIENTS
    size = visits.stat().st_size

    after_batch = []  # memory held between batches: it must not grow with the rows read
    write = services.Import._write

    def measured_write(self, *args):
        write(self, *args)
        after_batch.append(tracemalloc.get_traced_memory()[0])
    monkeypatch.setattr(services.Import, "_write", measured_write)

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = services.import_path("visits", str(visits))
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (result["inserted"], result["rejected"]) == (ROWS, 1)
    assert db.session.scalar(select(func.count()).select_from(Visit)) == ROWS
    growth = after_batch[-2] - after_batch[9]
    print(f"\n{ROWS:,} visits, {size / 2**20:.1f} MiB: {seconds:.1f} s under tracemalloc "
          f"({ROWS / seconds:,.0f} rows/s), peak {peak / 2**20:.1f} MiB, "
          f"growth from batch 10 to the last {growth / 2**20:.2f} MiB")
    assert peak < 30 * 2**20 and peak < 0.6 * size
    # Between batches only the 8-byte hashes of the keys seen so far accumulate.
    assert growth < 16 * ROWS + 2**20
