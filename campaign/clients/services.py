"""What a manager changes on a client's card: a ban and its lift,
do-not-contact, and "asked to be contacted" (the contact policy reads them,
SPEC §3–§4).

Every change needs a reason (at most 500 characters) and writes it to the
audit log with the client's ref. They flush, never commit: the request owns
the transaction. A client whose personal data was erased (docs/privacy.md)
is not changed any more: its do-not-contact ("erased") stays.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..core import audit, clock
from ..core.errors import NotFound, ValidationError
from ..extensions import db
from .models import Client, ClientErasure
from .queries import client_segments

REASON_MAX = 500

# app.extensions key: functions fn(client_id, reason, now) run, in the same
# transaction, when a client may no longer be called (a later feature — the
# campaigns — closes the client's open queue items without this package
# importing it).
EXCLUDED_HOOKS = "winback.client_excluded"


def on_client_excluded(blueprint, fn) -> None:
    """Run ``fn`` whenever a manager bans a client or marks do-not-contact."""
    blueprint.record_once(lambda state: state.app.extensions.setdefault(EXCLUDED_HOOKS, []).append(fn))


def _excluded(client: Client, reason: str) -> None:
    now = clock.utcnow_naive()
    for fn in current_app.extensions.get(EXCLUDED_HOOKS, ()):
        fn(client.id, reason, now)


def by_ref(ref: str) -> Client:
    client = db.session.scalar(select(Client).where(Client.ref == ref))
    if client is None:
        raise NotFound(f"no client with the reference {ref}")
    return client


def _reason(text: str | None) -> str:
    reason = (text or "").strip()
    if not reason:
        raise ValidationError("Give a reason: it is kept in the audit log.",
                              details={"reason": "is required"})
    if len(reason) > REASON_MAX:
        raise ValidationError(f"The reason is too long ({len(reason)} characters; at most {REASON_MAX}).",
                              details={"reason": f"must be at most {REASON_MAX} characters"})
    return reason


def _changeable(client: Client) -> None:
    if db.session.get(ClientErasure, client.id) is not None:
        raise ValidationError("The client's personal data was erased; the card can no longer be changed.",
                              details={"client": "erased"})


def _touch(client: Client, action: str, actor_id: int | None, reason: str, **details) -> None:
    client.updated_at = clock.utcnow_naive()
    db.session.flush()
    audit.record(action, actor_id=actor_id, target=f"client:{client.ref}", reason=reason, **details)


def is_banned(client: Client) -> bool:
    """Banned now: the no-shows since the last lift reached the limit, or a manager's ban."""
    seg = client_segments(None, client_ids=[client.id], with_overdue=False).subquery()
    return bool(db.session.scalar(select(seg.c.banned)))


def ban(client: Client, reason: str | None, actor_id: int | None) -> Client:
    """A manager's ban, whatever the no-show count: no online booking, no campaign."""
    _changeable(client)
    reason = _reason(reason)
    if client.manual_ban:
        raise ValidationError("The client is already banned by a manager.",
                              details={"ban": "already banned by a manager"})
    client.manual_ban, client.ban_reason = True, reason
    _touch(client, "client.ban", actor_id, reason)
    _excluded(client, "banned")
    return client


def lift_ban(client: Client, reason: str | None, actor_id: int | None) -> Client:
    """Lift any ban: the manager's ban goes, and no-shows count again from now
    (the earlier ones no longer do)."""
    _changeable(client)
    reason = _reason(reason)
    if not client.manual_ban and not is_banned(client):
        raise ValidationError("The client is not banned.", details={"ban": "not banned"})
    client.manual_ban, client.ban_reason = False, None
    client.ban_lifted_at = clock.utcnow_naive()
    _touch(client, "client.ban_lift", actor_id, reason)
    return client


def set_do_not_contact(client: Client, reason: str | None, actor_id: int | None) -> Client:
    _changeable(client)
    reason = _reason(reason)
    if client.do_not_contact:
        raise ValidationError("The client is already marked do-not-contact.",
                              details={"do_not_contact": "already set"})
    client.do_not_contact, client.dnc_reason = True, reason
    _touch(client, "client.dnc_set", actor_id, reason)
    _excluded(client, "do_not_contact")
    return client


def mark_moved_away(client: Client, reason: str | None, actor_id: int | None) -> Client:
    """The client moved away (said on a call): out of every queue and every
    future campaign until a manager says otherwise."""
    _changeable(client)
    reason = _reason(reason)
    client.moved_away = True
    _touch(client, "client.moved_away", actor_id, reason)
    _excluded(client, "moved_away")
    return client


def clear_do_not_contact(client: Client, reason: str | None, actor_id: int | None) -> Client:
    _changeable(client)
    reason = _reason(reason)
    if not client.do_not_contact:
        raise ValidationError("The client is not marked do-not-contact.",
                              details={"do_not_contact": "not set"})
    previous = client.dnc_reason
    client.do_not_contact, client.dnc_reason = False, None
    _touch(client, "client.dnc_clear", actor_id, reason, previous_reason=previous)
    return client


def set_contact_requested(client: Client, requested: bool, reason: str | None,
                          actor_id: int | None) -> Client:
    """The client asked to be contacted (or withdrew it): a client who never
    visited is queued only when they asked."""
    _changeable(client)
    reason = _reason(reason)
    if bool(client.contact_requested) == bool(requested):
        raise ValidationError("Nothing to change: the card already says so.",
                              details={"contact_requested": "unchanged"})
    client.contact_requested = bool(requested)
    _touch(client, "client.contact_requested", actor_id, reason, requested=bool(requested))
    return client
