"""Settings, parsed once from the environment with strict helpers.

Tests pass their own mapping to ``create_app``; nothing here reads the
environment at import time.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never later."""


def _int(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _normalise_db_url(url: str) -> str:
    # Accept the common spellings and always use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def from_env(env=None, instance_path: str | None = None) -> dict:
    env = os.environ if env is None else env
    instance = Path(instance_path or Path.cwd() / "instance")
    production = env.get("WINBACK_ENV", "development") == "production"

    secret = env.get("SECRET_KEY")
    if not secret:
        if production:
            raise ConfigError("SECRET_KEY must be set when WINBACK_ENV=production")
        # Development: a stable key kept in the instance folder so sessions
        # survive restarts; never a hard-coded value.
        instance.mkdir(parents=True, exist_ok=True)
        key_file = instance / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
        secret = key_file.read_text().strip()

    db_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'winback.sqlite'}"
    return {
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": _normalise_db_url(db_url),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "WINBACK_NOW": env.get("WINBACK_NOW") or None,
        "WINBACK_ENV": "production" if production else "development",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Failed sign-ins allowed per account, and per address (a call centre
        # shares one address: generous), before a wait (flask-limiter syntax).
        # A signed-in browser is signed out after this long without a request
        # (a shift) and, whatever happens, this long after signing in.
        "SESSION_IDLE_MINUTES": _int(env, "WINBACK_SESSION_IDLE_MINUTES", 12 * 60),
        "SESSION_MAX_HOURS": _int(env, "WINBACK_SESSION_MAX_HOURS", 7 * 24),
        "LOGIN_LIMIT_ACCOUNT": env.get("WINBACK_LOGIN_LIMIT_ACCOUNT", "10 per 15 minutes"),
        "LOGIN_LIMIT_ADDRESS": env.get("WINBACK_LOGIN_LIMIT_ADDRESS", "100 per 15 minutes"),
        "MAX_CONTENT_LENGTH": _int(env, "WINBACK_MAX_UPLOAD_MB", 512) * 1024 * 1024,
        "DB_POOL_SIZE": _int(env, "WINBACK_DB_POOL_SIZE", 5),
        "DB_MAX_OVERFLOW": _int(env, "WINBACK_DB_MAX_OVERFLOW", 5),
        # A `flask worker` renews the lease of its running job this often; a job
        # whose lease (3 beats) runs out is requeued by another worker (core/worker.py).
        "WORKER_HEARTBEAT_SECONDS": max(1, _int(env, "WINBACK_WORKER_HEARTBEAT_SECONDS", 10)),
        # Dormancy rules (SPEC §3); thresholds are settings.
        "BUCKET_BOUNDS": (30, 60, 90, 120),
        "NO_SHOW_BAN": _int(env, "WINBACK_NO_SHOW_BAN", 3),
        "VALUE_CLASS_SHARES": (20, 50),  # cumulative percent: A = top 20 %, B = next 30 %
        "IMPORT_BATCH_ROWS": _int(env, "WINBACK_IMPORT_BATCH_ROWS", 2000),
        # Contact policy (SPEC §4).
        "CONTACT_COOLDOWN_DAYS": _int(env, "WINBACK_CONTACT_COOLDOWN_DAYS", 90),
        "CONTACT_CAP": _int(env, "WINBACK_CONTACT_CAP", 17),
        # PostgreSQL work_mem for an assignment run (its sorts and rankings).
        "ASSIGN_WORK_MEM_MB": _int(env, "WINBACK_ASSIGN_WORK_MEM_MB", 256),
        # Outbox (docs/outbox.md): e-mail over SMTP, SMS over an HTTP gateway, timed sending.
        "SMTP_HOST": env.get("WINBACK_SMTP_HOST") or None,
        "SMTP_PORT": _int(env, "WINBACK_SMTP_PORT", 0) or None,
        "SMTP_FROM": env.get("WINBACK_SMTP_FROM") or None,
        "SMTP_USER": env.get("WINBACK_SMTP_USER") or None,
        "SMTP_PASSWORD": env.get("WINBACK_SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": env.get("WINBACK_SMTP_STARTTLS", "").strip().lower() in ("1", "true", "yes"),
        "SMTP_SSL": env.get("WINBACK_SMTP_SSL", "").strip().lower() in ("1", "true", "yes"),
        "SMTP_TIMEOUT": _int(env, "WINBACK_SMTP_TIMEOUT", 30),
        "SMS_GATEWAY_URL": env.get("WINBACK_SMS_GATEWAY_URL") or None,
        "SMS_GATEWAY_TOKEN": env.get("WINBACK_SMS_GATEWAY_TOKEN") or None,
        "SMS_TIMEOUT": _int(env, "WINBACK_SMS_TIMEOUT", 15),
        "SMS_INBOUND_SECRET": env.get("WINBACK_SMS_INBOUND_SECRET") or None,
        "OUTBOX_MAX_ATTEMPTS": _int(env, "WINBACK_OUTBOX_MAX_ATTEMPTS", 5),
        "OUTBOX_RETRY_SECONDS": _int(env, "WINBACK_OUTBOX_RETRY_SECONDS", 60),
        "OUTBOX_TICK_SECONDS": _int(env, "WINBACK_OUTBOX_TICK_SECONDS", 60),
        "OUTBOX_KICK": env.get("WINBACK_OUTBOX_KICK", "1").strip().lower() not in ("0", "false", "no"),
        # With Redis: a timed message asks RQ's scheduler for a tick when it falls due.
        "OUTBOX_SCHEDULE": env.get("WINBACK_OUTBOX_SCHEDULE", "1").strip().lower() not in ("0", "false", "no"),
    }
