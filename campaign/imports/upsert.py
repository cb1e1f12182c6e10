"""The batch upsert behind every import (CSV upload, CLI, POS API): rows that
passed ``rules`` are written a batch at a time, set-based, by their ref/code,
counting inserted / updated / unchanged, and every rejected row is reported.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask import current_app
from sqlalchemy import delete, insert, select, update

from ..accounts.models import Staff, StaffLanguage, StaffRole, Store, Team
from ..clients import queries as client_queries
from ..clients.models import Client, ClientErasure, Visit
from ..core import clock, csvio
from ..core.sql import among
from ..extensions import db
from ..scoring import marks
from . import rules


class ListRejects:
    """Rejects kept in memory: the API's, at most ``MAX_API_VISITS`` of them."""

    truncated = False

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.count = 0

    def add_batch(self, rejects: list[tuple]) -> None:
        self.items.extend({"line": line, "column": column, "reason": reason}
                          for line, column, reason, _raw in rejects)
        self.count += len(rejects)


def load_stores() -> dict[str, rules.StoreInfo]:
    return {r.code: rules.StoreInfo(r.id, r.timezone, r.country, r.currency)
            for r in db.session.execute(select(Store.code, Store.id, Store.timezone, Store.country,
                                               Store.currency))}


class Import:
    """One pass of upserts over the records of one file (or one API call).

    ``run`` takes ``(line, row, raw, error)`` records and handles them in
    batches of ``IMPORT_BATCH_ROWS``: the rows are parsed by ``rules``, one
    SELECT per batch finds the rows that already exist by key, then one bulk
    INSERT and one bulk UPDATE (by primary key) write the new and the changed
    ones; identical rows are not written at all, so a second import of the same
    file changes nothing. It yields after each batch has been flushed so the
    caller can commit and report progress; a failing batch leaves the earlier
    ones committed and a rerun from the start upserts them again harmlessly.
    """

    def __init__(self, kind: str, rejects: ListRejects, *, batch_rows: int | None = None):
        self.kind, self.key_column = kind, rules.KEY[kind]
        self.table = TABLES[kind](clock.utcnow_naive())
        self.rejects = rejects
        self.batch_rows = batch_rows or current_app.config.get("IMPORT_BATCH_ROWS") or 2000
        self.stores = load_stores() if kind != "stores" else {}
        self.seen = csvio.SeenKeys()
        self.inserted = self.updated = self.unchanged = 0
        self.marked = 0  # called clients whose visits changed: to attribute
        self.last_line = 0  # the last record of the last batch written

    def run(self, records: Iterable[tuple]) -> Iterator[None]:
        """Parse each record as it comes (only its values and raw text are kept)
        and write every ``batch_rows`` records; yields after each batch."""
        parse, key_attr, stores = rules.PARSERS[self.kind], self.table.key, self.stores
        good: list[tuple] = []
        rejected: list[tuple] = []
        keys: set = set()
        for line, row, raw, error in records:
            try:
                if error is not None:
                    raise error
                values = parse(row, stores)
            except rules.RowError as exc:
                rejected.append((line, exc.column, exc.reason, raw))
            else:
                key = values[key_attr]
                if key in keys or key in self.seen:
                    rejected.append((line, self.key_column, f"{self.key_column} {key!r} is on an "
                                     "earlier row of this file; only the first row with it counts", raw))
                else:
                    keys.add(key)
                    good.append((line, values, raw))
            if len(good) + len(rejected) >= self.batch_rows:
                self._write(good, rejected, keys)
                good, rejected, keys = [], [], set()
                self.last_line = line
                yield
        if good or rejected:
            self._write(good, rejected, keys)
            self.last_line = line
            yield

    def checkpoint(self) -> dict:
        """Where the batches written so far end, and their counts: saved with
        each batch (same transaction), so a retry goes on from there."""
        return {"line": self.last_line, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "marked": self.marked, "rejected": self.rejects.count}

    def resume(self, records: Iterable[tuple], done: dict) -> Iterator[tuple]:
        """The records after ``done`` (a ``checkpoint()`` of an earlier attempt
        whose batches were committed), with the counts and the keys already
        used taken back; the caller restores the rejects. The skipped records
        are parsed again for their keys only, so a later duplicate of one is
        still refused."""
        self.inserted, self.updated, self.unchanged = done["inserted"], done["updated"], done["unchanged"]
        self.marked, self.last_line = done["marked"], done["line"]
        parse, key_attr, stores = rules.PARSERS[self.kind], self.table.key, self.stores
        records = iter(records)
        keys: list = []
        if done["line"] > 0:
            for line, row, _raw, error in records:
                if error is None:
                    try:
                        keys.append(parse(row, stores)[key_attr])
                    except rules.RowError:
                        pass
                if len(keys) >= self.batch_rows:
                    self.seen.add_many(keys)
                    keys = []
                if line >= done["line"]:
                    break
        self.seen.add_many(keys)
        return records

    def _without_erased(self, good: list[tuple], rejected: list[tuple]) -> list[tuple]:
        """Refuse the rows that name an erased client, without their raw text:
        the personal data they carry is not kept again (docs/privacy.md). One
        statement per batch; clients and visits only."""
        if self.table.erased_reason is None or not good:
            return good
        if db.session.scalar(select(ClientErasure.client_id).limit(1)) is None:
            return good  # nobody was ever erased: no look-up (one tiny read per batch)
        ref_of = self.table.client_ref_of
        erased = client_queries.erased_among([ref_of(values) for _, values, _ in good])
        if not erased:
            return good
        kept = []
        for line, values, raw in good:
            when = erased.get(ref_of(values))
            if when is None:
                kept.append((line, values, raw))
            else:
                rejected.append((line, "client_ref", self.table.erased_reason(f"{when:%Y-%m-%d}"), None))
        return kept

    def _write(self, good: list[tuple], rejected: list[tuple], keys: set) -> None:
        """One batch: resolve references, one SELECT of what exists, bulk INSERT
        of the new rows, bulk UPDATE of the changed ones, bulk INSERT of rejects."""
        self.seen.add_many(keys)
        good = self._without_erased(good, rejected)
        good = self.table.resolve(good, lambda *reject: rejected.append(reject))
        key_attr, columns = self.table.key, self.table.columns
        existing = self.table.existing([values[key_attr] for _, values, _ in good])
        inserts, updates = [], []
        for _line, values, _raw in good:
            current = existing.get(values[key_attr])
            if current is None:
                inserts.append(values)
            elif any(current[c] != v for c, v in values.items() if c in columns):
                updates.append(values | {"id": current["id"]})
            else:
                self.unchanged += 1
        self.table.write(inserts, updates)
        self.marked += self.table.after_write(inserts, updates, existing)
        self.inserted += len(inserts)
        self.updated += len(updates)
        rejected.sort(key=lambda r: r[0])
        self.rejects.add_batch(rejected)
        db.session.flush()

    def result(self) -> dict:
        return {"kind": self.kind, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejects.count,
                "rejects": self.rejects.items, "rejects_truncated": self.rejects.truncated}


# ------------------------------------------------------------------ tables


def _parts(items: list, size: int = 5000) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _Table:
    """How one kind's rows meet its table: compared columns, defaults, writes."""

    model = None
    key = "ref"
    columns: tuple[str, ...] = ()
    defaults: dict = {}
    stamped = True  # has created_at / updated_at
    # For kinds with a client_ref: the reject reason of a row naming an erased
    # client (given the date of the erasure); None: not checked.
    erased_reason = None

    def __init__(self, now):
        self.now = now

    def resolve(self, rows: list, reject) -> list:
        return rows

    def existing(self, keys: list) -> dict:
        key_col = getattr(self.model, self.key)
        cols = [self.model.id, key_col] + [getattr(self.model, c) for c in self.columns]
        out = {}
        for part in _parts(keys):
            for row in db.session.execute(select(*cols).where(among(key_col, part))):
                out[row[1]] = row._asdict()
        return out

    def after_write(self, inserts: list, updates: list, existing: dict) -> int:
        """What else must know of the rows written (same transaction); returns
        how many called clients now wait for attribution."""
        return 0

    def write(self, inserts: list, updates: list) -> None:
        stamps = {"created_at": self.now, "updated_at": self.now} if self.stamped else {}
        if inserts:  # Core INSERT of the table: an executemany without ORM bookkeeping
            for values in inserts:
                for column, default in self.defaults.items():
                    values.setdefault(column, default)
                values.update(stamps)
            db.session.execute(insert(self.model.__table__), inserts)
        if updates:
            if self.stamped:
                updates = [u | {"updated_at": self.now} for u in updates]
            db.session.execute(update(self.model), updates)


class _Stores(_Table):
    model, key, stamped = Store, "code", False
    columns = ("name", "timezone", "country", "currency")


class _Clients(_Table):
    model = Client
    columns = ("store_id", "first_name", "last_name", "phone", "phone_callable", "email", "language",
               *rules.BOOLEAN_COLUMNS, "notes")
    defaults = {"first_name": "", "last_name": "", "phone": None, "phone_callable": False, "email": None,
                "language": None, "notes": None, **{c: False for c in rules.BOOLEAN_COLUMNS}}

    @staticmethod
    def client_ref_of(values: dict) -> str:
        return values["ref"]

    @staticmethod
    def erased_reason(day: str) -> str:
        return (f"this client's personal data was erased at their request on {day}; the row is not "
                "imported. To add the person again with their fresh consent, give them a new client_ref")


class _Visits(_Table):
    model = Visit
    columns = ("client_id", "store_id", "visited_at", "local_date", "date_only", "service", "amount",
               "status", "served_by")
    defaults = {"service": None, "amount": None, "status": "completed", "served_by": None}

    @staticmethod
    def client_ref_of(values: dict) -> str:
        return values["client_ref"]

    @staticmethod
    def erased_reason(day: str) -> str:
        return (f"the client of this visit had their personal data erased on {day}; no visit is "
                "recorded for them any more")

    def after_write(self, inserts, updates, existing):
        """A visit that arrives or changes may convert a called client, or stop
        converting one (a correction to no_show): those clients are marked for
        attribution, which runs before the next read of the scores."""
        by_id = {row["id"]: row["client_id"] for row in existing.values()}
        return marks.mark_clients({v["client_id"] for v in inserts} | {v["client_id"] for v in updates}
                                   | {by_id[v["id"]] for v in updates})

    def resolve(self, rows, reject):
        """client_ref → client_id with one query per batch; an unknown ref is rejected."""
        refs = list({values["client_ref"] for _, values, _ in rows})
        ids = {}
        for part in _parts(refs):
            ids.update(db.session.execute(select(Client.ref, Client.id)
                                          .where(among(Client.ref, part))).all())
        out = []
        for line, values, raw in rows:
            ref = values.pop("client_ref")
            if ref not in ids:
                reject(line, "client_ref", f"unknown client_ref {ref!r}; import the client in "
                                           "clients.csv first", raw)
                continue
            values["client_id"] = ids[ref]
            out.append((line, values, raw))
        return out


class _Staff(_Table):
    """Staff with their roles, languages and team (by name, created as needed).

    Passwords and the active flag are never touched by an import."""

    model, key, stamped = Staff, "employee_code", False
    columns = ("name", "email", "store_id", "team", "roles", "languages")
    defaults = {"email": None, "store_id": None, "team": None, "roles": [], "languages": []}

    def __init__(self, now):
        super().__init__(now)
        self.teams = dict(db.session.execute(select(Team.name, Team.id)).all())

    def resolve(self, rows, reject):
        """An e-mail already used by someone else (in the table) is rejected."""
        emails = list({v["email"] for _, v, _ in rows if v.get("email")})
        owner = {}
        for part in _parts(emails):
            owner.update(db.session.execute(select(Staff.email, Staff.employee_code)
                                            .where(among(Staff.email, part))).all())
        out = []
        for line, values, raw in rows:
            other = owner.get(values.get("email"))
            if other is not None and other != values["employee_code"]:
                reject(line, "email", f"e-mail {values['email']!r} already belongs to employee "
                                      f"{other}", raw)
                continue
            out.append((line, values, raw))
        return out

    def existing(self, keys):
        out = {}
        for part in _parts(keys):
            rows = db.session.execute(
                select(Staff.id, Staff.employee_code, Staff.name, Staff.email, Staff.store_id,
                       Team.name.label("team")).outerjoin(Team, Staff.team_id == Team.id)
                .where(among(Staff.employee_code, part)))
            found = {r.id: r._asdict() | {"roles": [], "languages": []} for r in rows}
            for model, attr, field in ((StaffRole, StaffRole.role, "roles"),
                                       (StaffLanguage, StaffLanguage.language, "languages")):
                for staff_id, value in db.session.execute(
                        select(model.staff_id, attr).where(model.staff_id.in_(list(found)))
                        .order_by(attr)):
                    found[staff_id][field].append(value)
            out.update({r["employee_code"]: r for r in found.values()})
        return out

    def write(self, inserts, updates):
        wanted = {v.get("team") for v in inserts + updates} - {None} - set(self.teams)
        if wanted:
            db.session.execute(insert(Team), [{"name": name} for name in sorted(wanted)])
            self.teams.update(db.session.execute(select(Team.name, Team.id)
                                                 .where(Team.name.in_(list(wanted)))).all())
        children = []
        if inserts:
            rows = [self._row(self.defaults | v) for v in inserts]
            db.session.execute(insert(Staff), rows)
            ids = dict(db.session.execute(select(Staff.employee_code, Staff.id).where(
                Staff.employee_code.in_([v["employee_code"] for v in inserts]))).all())
            children += [(ids[v["employee_code"]], v) for v in inserts]
        if updates:
            db.session.execute(update(Staff), [self._row(v) | {"id": v["id"]} for v in updates])
            children += [(v["id"], v) for v in updates]
        for model, field in ((StaffRole, "roles"), (StaffLanguage, "languages")):
            attr = "role" if field == "roles" else "language"
            changed = [(sid, v) for sid, v in children if field in v]
            if not changed:
                continue
            db.session.execute(delete(model).where(model.staff_id.in_([sid for sid, _ in changed])))
            new = [{"staff_id": sid, attr: x} for sid, v in changed for x in v[field]]
            if new:
                db.session.execute(insert(model), new)

    def after_write(self, inserts, updates, existing):
        """A team change moves the agent's queue items to the new team's "assigned"."""
        moved = [u["id"] for u in updates if "team" in u and u["team"] != existing[u["employee_code"]]["team"]]
        if moved:
            marks.mark_staff(moved)
        return 0

    def _row(self, values: dict) -> dict:
        row = {k: v for k, v in values.items() if k not in ("roles", "languages", "team", "id")}
        if "team" in values:
            row["team_id"] = self.teams.get(values["team"]) if values["team"] else None
        return row


TABLES = {"stores": _Stores, "staff": _Staff, "clients": _Clients, "visits": _Visits}
