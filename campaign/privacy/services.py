"""Privacy requests (GDPR, docs/privacy.md): export everything about one
client; erase their personal data and keep every aggregate.

* ``export_client`` gathers every record that holds something about the
  client — their row, visits, contacts, queue items and campaigns, call
  outcomes, follow-up messages, conversions, the bonus runs' copies of them,
  audit entries and rejected import rows — as a JSON-able dict, and audits
  the export (``client.export``).
* ``erase_client`` empties the personal fields, takes the client's strings
  out of every free text that held them, replaces the ref with
  ``ERASED-<id>``, marks the client do-not-contact, closes their queue items
  and cancels their messages, and audits it (``client.erase``, no personal
  data). Visits, outcomes, contacts, conversions and bonus copies stay
  row for row, so leaderboards, reports and bonus statements are unchanged.

They flush, never commit: the request or command owns the transaction.
"""
from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import or_, select, text, update

from ..campaigns import services as campaign_services
from ..calls.models import Outcome
from ..clients import queries as client_queries
from ..clients.models import Client, ClientErasure
from ..clients.rules import erased_ref_digest
from ..core import audit, clock
from ..core.errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..imports import jobs as import_jobs
from ..outbox import services as outbox
from ..outbox.models import Message
from . import queries, rules

LOOKUP_LIMIT = 50


def identity(client: Client) -> rules.Identity:
    return rules.Identity(client.id, client.ref, client.phone, (client.email or "").strip() or None,
                          client.first_name or "", client.last_name or "", client.notes)


def find_client(ref: str | None) -> Client:
    """The client with this ref, or the erased client that had it (found by
    the ref's digest, so an erasure asked for twice answers "already erased")."""
    ref = (ref or "").strip()
    client = db.session.scalar(select(Client).where(Client.ref == ref)) if ref else None
    if client is None and ref:
        client = db.session.scalar(queries.erased_client_by_digest(erased_ref_digest(ref)))
    if client is None:
        raise NotFound(f"no client with the reference {ref}")
    return client


# ------------------------------------------------------------------ export

def export_client(client: Client, actor_id: int | None = None, *, via: str = "cli") -> dict:
    """Everything the system holds about the client, JSON-able: dates ISO
    8601 (UTC times end in ``Z``), money in integer minor units with its
    currency. The export itself is audited (``client.export``, after the
    data is read, so it is not in its own file)."""
    iso = rules.iso
    who = identity(client)
    store = client.store
    erasure = client_queries.erasure_of(client.id)
    items = db.session.execute(queries.queue_items(client.id)).all()
    outcomes = db.session.execute(queries.outcomes(client.id)).all()
    messages = db.session.scalars(queries.messages(client.id)).all()
    conversions = db.session.execute(queries.conversions(client.id)).all()
    campaign_ids = sorted({i.campaign_id for i, *_ in items} | {o.campaign_id for o, *_ in outcomes}
                          | {m.campaign_id for m in messages if m.campaign_id} | {c.campaign_id for c, *_ in conversions})
    data = {
        "export": {"format": rules.EXPORT_FORMAT, "version": rules.EXPORT_VERSION,
                   "generated_at": iso(clock.utcnow_naive()), "client_ref": client.ref},
        "client": {
            "client_ref": client.ref, "first_name": client.first_name, "last_name": client.last_name,
            "name": client.name, "phone": client.phone, "phone_callable": bool(client.phone_callable),
            "email": client.email, "language": client.language,
            "store": {"code": store.code, "name": store.name, "timezone": store.timezone,
                      "country": store.country, "currency": store.currency},
            "consent_call": bool(client.consent_call), "consent_sms": bool(client.consent_sms),
            "consent_email": bool(client.consent_email), "consent_post": bool(client.consent_post),
            "do_not_contact": bool(client.do_not_contact), "do_not_contact_reason": client.dnc_reason,
            "notes": client.notes, "banned_by_manager": bool(client.manual_ban), "ban_reason": client.ban_reason,
            "ban_lifted_at": iso(client.ban_lifted_at), "contact_requested": bool(client.contact_requested),
            "moved_away": bool(client.moved_away), "created_at": iso(client.created_at),
            "updated_at": iso(client.updated_at)},
        "erasure": None if erasure is None else {
            "erased_at": iso(erasure["at"]), "erased_by": erasure["by_code"], "via": erasure["via"],
            "reason": erasure["reason"]},
        "visits": [{"visit_ref": v.ref, "store_code": code, "visited_at": iso(v.visited_at),
                    "local_date": iso(v.local_date), "date_only": bool(v.date_only), "service": v.service,
                    "amount": v.amount, "currency": currency, "status": v.status, "served_by": v.served_by,
                    "created_at": iso(v.created_at), "updated_at": iso(v.updated_at)}
                   for v, code, currency in db.session.execute(queries.visits(client.id))],
        "contacts": [{"id": c.id, "channel": c.channel, "at": iso(c.at), "reached": bool(c.reached),
                      "campaign_id": c.campaign_id, "employee_code": code, "disposition": c.disposition,
                      "reason": c.reason, "resolved_at": iso(c.resolved_at)}
                     for c, code in db.session.execute(queries.contacts(client.id))],
        "campaigns": [{"id": c.id, "name": c.name, "status": c.status, "launched_at": iso(c.launched_at),
                       "closed_at": iso(c.closed_at)}
                      for c in db.session.scalars(queries.campaigns(campaign_ids))] if campaign_ids else [],
        "queue_items": [{"item_id": i.id, "campaign_id": i.campaign_id, "campaign": name, "status": i.status,
                         "employee_code": code, "store_code": store_code, "language": i.language,
                         "value_class": i.value_class, "days_since": i.days_since, "priority": i.priority,
                         "attempts": i.attempts, "pool_reason": i.pool_reason, "assigned_at": iso(i.assigned_at),
                         "claimed_at": iso(i.claimed_at), "due_at": iso(i.due_at), "booked_for": iso(i.booked_for),
                         "closed_at": iso(i.closed_at), "close_reason": i.close_reason,
                         "created_at": iso(i.created_at)}
                        for i, name, code, store_code in items],
        "outcomes": [{"id": o.id, "item_id": o.item_id, "campaign_id": o.campaign_id, "employee_code": code,
                      "team": team, "at": iso(o.at), "call_at": iso(o.call_at), "local_date": iso(o.local_date),
                      "disposition": o.disposition, "reached": bool(o.reached), "reason": o.reason,
                      "offer": o.offer, "notes": o.notes, "callback_at": iso(o.callback_at),
                      "booked_at": iso(o.booked_at), "service": o.service, "consent": o.consent,
                      "answers": o.answers or {}, "corrects": o.corrects_id}
                     for o, code, team in outcomes],
        "messages": [{"id": m.id, "campaign_id": m.campaign_id, "item_id": m.item_id, "channel": m.channel,
                      "kind": m.kind, "language": m.language, "recipient": m.recipient, "subject": m.subject,
                      "body": m.body, "status": m.status, "offer_valid_until": iso(m.offer_valid_until),
                      "due_at": iso(m.due_at), "sent_at": iso(m.sent_at), "attempts": m.attempts,
                      "last_error": m.last_error, "cancel_reason": m.cancel_reason,
                      "created_at": iso(m.created_at), "updated_at": iso(m.updated_at)}
                     for m in messages],
        "conversions": [{"campaign_id": c.campaign_id, "visit_ref": visit_ref, "outcome_id": c.outcome_id,
                         "credited_to": {"employee_code": code, "name": name}, "team": team,
                         "visited_at": iso(c.visited_at), "local_date": iso(c.local_date),
                         "period": rules.period_label(c.month), "amount": c.amount, "currency": c.currency}
                        for c, visit_ref, code, name, team in conversions],
        "bonus_conversions": [{"run_id": b.run_id, "run_period": rules.period_label(month), "run_status": status,
                               "period": rules.period_label(b.month), "campaign_id": b.campaign_id,
                               "visit_ref": visit_ref, "employee_code": code, "team": team,
                               "local_date": iso(b.local_date), "amount": b.amount, "currency": b.currency}
                              for b, month, status, visit_ref, code, team
                              in db.session.execute(queries.bonus_conversions(client.id))],
        "audit_log": [{"id": a.id, "at": iso(a.at), "action": a.action, "actor": code, "target": a.target,
                       "details": a.details}
                      for a, code in _audit_entries(who)],
        "import_rejects": [{"job_id": r.job_id, "kind": (job.params or {}).get("kind"),
                            "file": (job.params or {}).get("filename"), "imported_at": iso(job.created_at),
                            "line": r.line, "column": r.column, "reason": r.reason, "raw": r.raw}
                           for r, job in _rejects(who)],
    }
    audit.record("client.export", actor_id=actor_id, target=f"client:{client.ref}", via=via)
    return data


def _audit_entries(who: rules.Identity) -> list[tuple]:
    target = f"client:{who.ref}"
    return [(a, code) for a, code in db.session.execute(queries.audit_candidates(who))
            if a.target == target or rules.json_mentions(a.details, who)]


def _rejects(who: rules.Identity) -> list[tuple]:
    return [(r, job) for r, job in db.session.execute(queries.reject_candidates(who))
            if rules.row_names_client(r.raw, (job.params or {}).get("delimiter") or ",", who)]


# ------------------------------------------------------------------ erase

def _reason(text) -> str:
    reason = text.strip() if isinstance(text, str) else ""
    if not reason:
        raise ValidationError("Give the reason for the erasure (e.g. the client's request by e-mail on "
                              "2026-06-01): it is kept in the audit log.", details={"reason": "is required"})
    if len(reason) > rules.REASON_MAX:
        raise ValidationError(f"The reason is too long ({len(reason)} characters; at most {rules.REASON_MAX}).",
                              details={"reason": f"must be at most {rules.REASON_MAX} characters"})
    return reason


def erase_client(client: Client, actor_id: int | None, reason: str | None, *, via: str = "cli") -> dict:
    """Erase the client's personal data; keep every record that counts.

    Removed: name, phone, e-mail, notes, the reasons staff typed on the card
    (do-not-contact, ban), call notes and booked-service text, every
    message's recipient, subject, text and delivery error, the client's
    strings in audit entries about them (their free text goes whole) and in
    jobs' results, rejected import rows naming them, a failed upload naming
    them; the ref becomes ``ERASED-<id>`` (its digest is kept so an import
    sending it again is refused). Open queue items are closed and scheduled
    messages cancelled (reason ``erased``); the client is do-not-contact
    with every consent withdrawn. Kept: visits, contacts, outcomes' codes and
    times, queue items, conversions, bonus copies, language and store.
    A message a dispatcher is sending at this very moment is cancelled too: it
    may still reach the channel, but nothing it answers is written back.

    ``Conflict`` if the client was erased already (nothing changes);
    ``ValidationError`` without a reason. The reason is kept with the
    client's own strings taken out. Returns what was done, JSON-able.
    """
    # Write to the client's row first: it stays locked until the commit (on
    # SQLite the database's write lock), so a second erasure of the same client
    # waits, then reads the first one and answers 409.
    db.session.execute(update(Client).where(Client.id == client.id).values(updated_at=Client.updated_at)
                       .execution_options(synchronize_session=False))
    db.session.refresh(client)
    erased = client_queries.erasure_of(client.id)
    if erased is not None:
        raise Conflict(f"The personal data of this client was already erased on {erased['at']:%Y-%m-%d} "
                       f"(now {client.ref}); there is nothing left to erase.")
    text = _reason(reason)
    new_ref = rules.erased_ref(client.id)
    if client.ref != new_ref and db.session.scalar(select(Client.id).where(Client.ref == new_ref)) is not None:
        raise Conflict(f"Another client already has the ref {new_ref}; rename it before erasing this one.")
    now = clock.now()
    stamp = clock.naive_utc(now)
    who = identity(client)
    strings = who.strings()
    kept_reason = rules.scrub(text, strings)

    removed = {
        "queue_items_closed": campaign_services.close_open_items(client.id, rules.ERASED_REASON, stamp),
        # Scheduled ones, and one a dispatcher is handing to its channel right now: that one may
        # still go out, but its dispatcher finds it cancelled and writes nothing back to it.
        "messages_cancelled": outbox.cancel_pending(client.id, rules.ERASED_REASON, now) + _rowcount(
            update(Message).where(Message.client_id == client.id, Message.status == "sending")
            .values(status="cancelled", cancel_reason=rules.ERASED_REASON, updated_at=stamp)),
    }
    removed["messages_cleared"] = _rowcount(
        update(Message).where(Message.client_id == client.id,
                              or_(Message.recipient.is_not(None), Message.subject.is_not(None), Message.body != "",
                                  Message.last_error.is_not(None)))
        .values(recipient=None, subject=None, body="", last_error=None, updated_at=stamp))
    removed["call_notes_cleared"] = _rowcount(
        update(Outcome).where(Outcome.client_id == client.id,
                              or_(Outcome.notes.is_not(None), Outcome.service.is_not(None)))
        .values(notes=None, service=None))
    removed["audit_entries_cleared"] = _scrub_audit(who, strings, new_ref)
    removed["import_rejects_cleared"] = _scrub_imports(who, strings)
    removed["uploads_deleted"] = _drop_uploads(who)

    client.first_name = client.last_name = ""
    client.phone = client.email = client.notes = None
    client.phone_callable = False
    client.consent_call = client.consent_sms = client.consent_email = client.consent_post = False
    client.contact_requested = False
    client.do_not_contact, client.dnc_reason = True, rules.ERASED_REASON
    client.ban_reason = rules.ERASED if client.ban_reason else None
    client.ref = new_ref
    client.updated_at = stamp
    db.session.add(ClientErasure(client_id=client.id, ref_digest=erased_ref_digest(who.ref), erased_at=stamp,
                                 erased_by=actor_id, via=via, reason=kept_reason))
    db.session.flush()
    kept = dict(db.session.execute(queries.kept_counts(client.id)).mappings().one())
    audit.record("client.erase", actor_id=actor_id, target=f"client:{new_ref}", via=via, reason=kept_reason,
                 removed=removed, kept=kept)
    return {"client_ref": new_ref, "erased_at": rules.iso(stamp), "via": via, "reason": kept_reason,
            "removed": removed, "kept": kept}


def _rowcount(stmt) -> int:
    return db.session.execute(stmt.execution_options(synchronize_session="fetch")).rowcount or 0


def _scrub_audit(who: rules.Identity, strings: list[str], new_ref: str) -> int:
    """Entries about the client lose their free text and point at the new ref;
    entries that only mention the client lose the client's strings."""
    target = f"client:{who.ref}"
    changed = 0
    if db.session.get_bind().dialect.name == "postgresql":
        # The audit log refuses edits (core.models.AUDIT_APPEND_ONLY_SQL) except
        # this one, for this transaction only.
        db.session.execute(text("SELECT set_config('winback.audit_scrub', 'on', true)"))
    for entry, _code in _audit_entries(who):
        if entry.target == target:
            new_target, details = f"client:{new_ref}", rules.blank_free_text(entry.details, strings)
        else:
            new_target, details = entry.target, rules.scrub_json(entry.details, strings)
        if (new_target, details) != (entry.target, entry.details):
            entry.target, entry.details = new_target, details
            changed += 1
    return changed


def _scrub_imports(who: rules.Identity, strings: list[str]) -> int:
    """Rejected rows about the client lose their text and reason (in the
    rejects table and in their job's result); jobs that mention the client
    lose the client's strings."""
    lines = defaultdict(set)
    for reject, _job in _rejects(who):
        reject.raw, reject.reason = None, rules.REJECT_ERASED
        lines[reject.job_id].add(reject.line)
    for job in db.session.scalars(queries.job_candidates(who, list(lines))):
        result = rules.scrub_json(job.result, strings)
        if isinstance(result, dict) and isinstance(result.get("rejects"), list) and job.id in lines:
            result["rejects"] = [r | {"reason": rules.REJECT_ERASED}
                                 if isinstance(r, dict) and r.get("line") in lines[job.id] else r
                                 for r in result["rejects"]]
        job.result = result
        job.params = rules.scrub_json(job.params, strings)
        job.error = rules.scrub(job.error, strings)
    return sum(len(v) for v in lines.values())


def _drop_uploads(who: rules.Identity) -> int:
    """A failed import keeps its uploaded file; one that names the client is deleted."""
    dropped = 0
    for job_id in db.session.scalars(queries.failed_uploads()).all():
        if rules.bytes_mention(import_jobs.stored_chunks(job_id), who):
            import_jobs.drop_upload(job_id)
            dropped += 1
    return dropped


# ------------------------------------------------------------------ finding the client

_PHONE_LIKE = re.compile(r"^[\d\s()+./-]+$")


def lookup(q: str | None) -> list[dict]:
    """Clients that a person asking about their data may be: the ref (also
    one that was erased), the e-mail, the phone number (however written) or
    part of the name. At most ``LOOKUP_LIMIT``."""
    q = (q or "").strip()
    if not q:
        return []
    phone_digits = rules.digits(q)
    is_phone = bool(_PHONE_LIKE.match(q)) and len(phone_digits) >= 6
    erased = db.session.scalar(queries.erased_client_by_digest(erased_ref_digest(q)))
    rows = db.session.execute(queries.lookup(
        q, email=q if "@" in q else None,
        phone_digits=phone_digits[-rules.NATIONAL_DIGITS:] if is_phone else None,
        name=q if not is_phone and "@" not in q and len(q) >= 2 else None,
        erased_id=erased.id if erased is not None else None, limit=LOOKUP_LIMIT)).all()
    return [{"ref": c.ref, "name": c.name, "phone": c.phone, "email": c.email, "store_code": code,
             "erased_at": erased_at} for c, code, erased_at in rows]

