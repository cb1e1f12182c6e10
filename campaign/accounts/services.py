"""Use-cases for people, sign-in sessions and API tokens. They flush, never commit."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from ..core import audit, clock, i18n
from ..core.errors import Conflict, NotFound, ValidationError
from ..extensions import db
from . import passwords
from .models import ApiToken, Staff, UserSession

_hasher = PasswordHasher()
TOKEN_PREFIX = "wb_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(staff: Staff, password: str, *, actor_id: int | None, policy: bool = True) -> None:
    """Set a new password (the policy of ``passwords`` unless ``policy`` is off:
    only the demo turns it off, for the published demo password)."""
    if policy:
        found = passwords.problems(password, personal=passwords.personal_words(staff))
        if found:
            raise ValidationError("password: " + "; ".join(found),
                                  details=[{"field": "password", "message": m} for m in found])
    staff.password_hash = hash_password(password)
    # A new password signs out every browser of that person.
    revoke_sessions_of(staff.id)
    audit.record("user.set_password", actor_id=actor_id, target=f"staff:{staff.employee_code}")


def set_ui_language(staff: Staff, code: str | None, *, actor_id: int | None) -> None:
    """The language of the person's pages; None follows the browser. Only a
    language with a catalogue (``core.i18n.LANGUAGES``) is accepted."""
    if code is not None and code not in i18n.LANGUAGES:
        raise ValidationError(f"ui_language: {code!r} is not one of {', '.join(i18n.LANGUAGES)}",
                              details=[{"field": "ui_language", "message": "not a supported language"}])
    staff.ui_language = code
    audit.record("user.set_ui_language", actor_id=actor_id, target=f"staff:{staff.employee_code}",
                 ui_language=code)


def authenticate(login: str, password: str) -> Staff | None:
    """Email or employee code + password. Constant work whether or not the person exists."""
    login = (login or "").strip()
    staff = db.session.scalar(select(Staff).where(
        (Staff.email == login.lower()) | (Staff.employee_code == login)))
    if staff is None or not staff.password_hash or not staff.active:
        _hasher.hash(password or "x")  # spend the same time as a real check
        return None
    try:
        _hasher.verify(staff.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if not staff.has_role("agent", "manager", "payroll", "admin"):
        return None  # integration identities (pos) cannot sign in
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    return staff


def wall_clock() -> datetime:
    """Real UTC time (naive): sessions expire by it even when WINBACK_NOW pins
    the application's clock for a demo."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def open_session(staff: Staff, *, user_agent: str | None, ip: str | None) -> UserSession:
    now = wall_clock()
    row = UserSession(id=secrets.token_urlsafe(32), staff_id=staff.id, created_at=now,
                      last_seen_at=now, user_agent=(user_agent or "")[:300], ip=ip)
    db.session.add(row)
    db.session.flush()
    audit.record("session.sign_in", actor_id=staff.id, target=f"staff:{staff.employee_code}", ip=ip)
    return row


def record_failed_sign_in(login: str, *, ip: str | None) -> None:
    """A refused sign-in, for the audit log (ASVS V7.2.1). The login is kept as
    typed (cut short), the password never."""
    audit.record("session.sign_in_failed", actor_id=None, target=f"login:{(login or '').strip()[:80]}", ip=ip)


def live_session(session_id: str) -> UserSession | None:
    if not session_id:
        return None
    # populate_existing: revocation must be read fresh, never from the identity map.
    row = db.session.get(UserSession, session_id, populate_existing=True)
    if row is None or row.revoked_at is not None:
        return None
    cfg, now = current_app.config, wall_clock()
    if now - row.last_seen_at > timedelta(minutes=cfg.get("SESSION_IDLE_MINUTES", 720)) or \
            now - row.created_at > timedelta(hours=cfg.get("SESSION_MAX_HOURS", 168)):
        row.revoked_at = now  # expired: the browser signs in again (the caller commits)
        db.session.flush()
        return None
    return row


def revoke_session(session_id: str, *, actor_id: int | None) -> None:
    row = db.session.get(UserSession, session_id)
    if row is None:
        raise NotFound("no such session")
    if row.revoked_at is None:
        row.revoked_at = clock.utcnow_naive()
        audit.record("session.revoke", actor_id=actor_id, target=f"staff_id:{row.staff_id}")
    db.session.flush()


def revoke_sessions_of(staff_id: int) -> None:
    db.session.execute(update(UserSession)
                       .where(UserSession.staff_id == staff_id, UserSession.revoked_at.is_(None))
                       .values(revoked_at=clock.utcnow_naive()))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(staff: Staff, *, label: str | None = None, actor_id: int | None) -> str:
    """Returns the token text; only its hash is stored, so this is the one chance to see it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(staff_id=staff.id, token_hash=token_hash(token), prefix=token[:10],
                            label=label, created_at=clock.utcnow_naive()))
    audit.record("token.create", actor_id=actor_id, target=f"staff:{staff.employee_code}",
                 prefix=token[:10])
    db.session.flush()
    return token


def staff_for_token(token: str) -> Staff | None:
    """The token's person with their roles: one statement (every API call pays it)."""
    row = db.session.scalars(
        select(ApiToken).options(joinedload(ApiToken.staff).joinedload(Staff.role_rows))
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))).unique().first()
    if row is None or not row.staff.active:
        return None
    return row.staff


def revoke_token(token_id: int, *, actor_id: int | None) -> None:
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("no such token")
    if row.revoked_at is None:
        row.revoked_at = clock.utcnow_naive()
        audit.record("token.revoke", actor_id=actor_id, target=f"staff_id:{row.staff_id}",
                     prefix=row.prefix)
    db.session.flush()


def set_active(staff: Staff, active: bool, *, actor_id: int | None) -> bool:
    """Let a person sign in again, or stop them: deactivating signs out every
    browser at once (their next request is refused) and their API tokens stop
    working. Nobody deactivates themselves (an admin could lock everyone out).
    Returns whether anything changed."""
    if not active and actor_id is not None and staff.id == actor_id:
        raise Conflict("you cannot deactivate yourself: ask another admin")
    if staff.active == active:
        return False
    staff.active = active
    if not active:
        revoke_sessions_of(staff.id)
    audit.record("user.activate" if active else "user.deactivate", actor_id=actor_id,
                 target=f"staff:{staff.employee_code}")
    db.session.flush()
    return True


def staff_by_code(code: str) -> Staff:
    staff = db.session.scalar(select(Staff).where(Staff.employee_code == code))
    if staff is None:
        raise NotFound(f"no staff member with employee code {code!r}")
    return staff
