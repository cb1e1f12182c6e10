"""Campaign use-cases that change state. They flush, never commit; the
request, job or command that calls them owns the transaction."""
from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import flag_modified

from ..accounts.models import Staff, Store
from ..core import audit, clock, jobs
from ..core.errors import Conflict, NotFound, ValidationError
from ..extensions import db
from . import rules
from .models import OPEN_ITEM_STATUSES, Campaign, CampaignItem, Quota, Script

DEFAULT_SCRIPT_NAME = "Default win-back call"

# Fields that may change once a campaign has been launched: how calls are
# made, not who is in it (the target, as-of date and holdout are fixed).
LIVE_FIELDS = ("name", "call_start", "call_end", "max_attempts", "retry_delay_hours",
               "attribution_window_days", "script_id", "offers")


def _invalid(errors: dict[str, str]) -> ValidationError:
    return ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), details=errors)


def default_script() -> Script:
    """The shipped win-back script's row (its texts: ``campaign/scripts``)."""
    script = db.session.scalar(select(Script).where(Script.is_default.is_(True)))
    if script is None:
        script = Script(name=DEFAULT_SCRIPT_NAME, is_default=True, created_at=clock.utcnow_naive())
        db.session.add(script)
        db.session.flush()
    return script


def _resolve(parsed: rules.CampaignInput) -> dict:
    """Store codes → ids, the script; ValidationError naming what is unknown."""
    errors = {}
    store_ids = []
    if parsed.stores:
        found = dict(db.session.execute(select(Store.code, Store.id).where(Store.code.in_(parsed.stores))).all())
        missing = [c for c in parsed.stores if c not in found]
        if missing:
            errors["stores"] = f"unknown store code(s): {', '.join(missing)}"
        store_ids = sorted(found[c] for c in parsed.stores if c in found)
    script_id = parsed.script_id
    if script_id is not None:
        if db.session.get(Script, script_id) is None:
            errors["script_id"] = f"no script with id {script_id}"
    else:
        script_id = default_script().id
    if errors:
        raise _invalid(errors)
    return {
        "name": parsed.name, "as_of": parsed.as_of, "buckets": parsed.buckets, "tiers": parsed.tiers,
        "value_classes": parsed.value_classes, "store_ids": store_ids, "languages": parsed.languages,
        "last_services": parsed.last_services, "call_start": parsed.call_start,
        "call_end": parsed.call_end, "max_attempts": parsed.max_attempts,
        "retry_delay_hours": parsed.retry_delay_hours, "holdout_bp": parsed.holdout_bp,
        "attribution_window_days": parsed.attribution_window_days, "script_id": script_id,
        "offers": parsed.offers,
    }


def _parse(data: dict) -> rules.CampaignInput:
    try:
        return rules.parse_campaign(data)
    except rules.InputErrors as exc:
        raise _invalid(exc.errors) from None


def create_campaign(data: dict, actor_id: int | None) -> Campaign:
    """A draft campaign from the settings of SPEC §9 ``POST /campaigns``."""
    values = _resolve(_parse(data))
    now = clock.utcnow_naive()
    camp = Campaign(**values, status="draft", holdout_seed=secrets.randbelow(2**31 - 1) + 1,
                    created_by=actor_id, created_at=now, updated_at=now)
    db.session.add(camp)
    db.session.flush()
    audit.record("campaign.create", actor_id=actor_id, target=f"campaign:{camp.id}", name=camp.name)
    return camp


def get(campaign_id: int, *, for_update: bool = False) -> Campaign:
    camp = db.session.get(Campaign, campaign_id, with_for_update=for_update or None)
    if camp is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return camp


def _check_version(camp: Campaign, version) -> None:
    if version is not None and str(version) != str(camp.version):
        raise Conflict("this campaign was changed by someone else since you opened it; "
                       "reload to see their changes, then make yours again")


def update_campaign(camp: Campaign, data: dict, actor_id: int | None, *, version=None) -> Campaign:
    """Edit a campaign. A draft takes every setting; once launched only the
    ``LIVE_FIELDS`` (a different target would need a different campaign).
    A stale ``version`` answers 409."""
    _check_version(camp, version)
    if camp.status == "closed":
        raise Conflict("a closed campaign cannot be changed")
    values = _resolve(_parse(data))
    changed = {}
    for key, value in values.items():
        if getattr(camp, key) != value:
            if camp.status != "draft" and key not in LIVE_FIELDS:
                raise _invalid({key: "cannot change once the campaign is launched"})
            changed[key] = value
    for key, value in changed.items():
        setattr(camp, key, value)
    if changed:
        camp.updated_at = clock.utcnow_naive()
        db.session.flush()
        audit.record("campaign.update", actor_id=actor_id, target=f"campaign:{camp.id}",
                     fields=sorted(changed))
    return camp


def delete_draft(camp: Campaign, actor_id: int | None, *, version=None) -> None:
    _check_version(camp, version)
    if camp.status != "draft":
        raise Conflict("only a draft can be deleted; close a launched campaign instead")
    audit.record("campaign.delete", actor_id=actor_id, target=f"campaign:{camp.id}", name=camp.name)
    db.session.delete(camp)
    db.session.flush()


def set_quotas(camp: Campaign, rows, actor_id: int | None, *, version=None) -> list[Quota]:
    """Replace the campaign's quota grid with ``rows``
    (``[{"employee_code", "target", "daily_cap", "absent"}]``).

    Every listed person must be an active agent. People left out lose their
    quota (target 0): their untouched items return to the pool at the next
    assignment run. Raises ValidationError naming each bad row.
    """
    _check_version(camp, version)
    if camp.status == "closed":
        raise Conflict("a closed campaign's quotas cannot be changed")
    try:
        cleaned = rules.parse_quota_rows(rows)
    except rules.InputErrors as exc:
        raise _invalid(exc.errors) from None
    codes = [r["employee_code"] for r in cleaned]
    staff = {s.employee_code: s for s in db.session.scalars(select(Staff).where(Staff.employee_code.in_(codes)))}
    errors = {}
    for i, r in enumerate(cleaned, 1):
        s = staff.get(r["employee_code"])
        if s is None:
            errors[f"[{i}].employee_code"] = f"no staff member {r['employee_code']}"
        elif not s.active or not s.has_role("agent"):
            errors[f"[{i}].employee_code"] = f"{r['employee_code']} is not an active agent"
    if errors:
        raise _invalid(errors)
    now = clock.utcnow_naive()
    existing = {q.staff_id: q for q in db.session.scalars(select(Quota).where(Quota.campaign_id == camp.id))}
    keep = set()
    for r in cleaned:
        sid = staff[r["employee_code"]].id
        keep.add(sid)
        q = existing.get(sid)
        if q is None:
            q = Quota(campaign_id=camp.id, staff_id=sid)
            db.session.add(q)
        q.target, q.daily_cap, q.absent, q.updated_at = r["target"], r["daily_cap"], r["absent"], now
    for sid, q in existing.items():
        if sid not in keep:
            db.session.delete(q)
    camp.updated_at = now  # bumps the version: two managers editing the grid see a 409
    # …even when ``now`` equals the last update (a pinned clock): force the UPDATE.
    flag_modified(camp, "updated_at")
    db.session.flush()
    audit.record("campaign.quotas", actor_id=actor_id, target=f"campaign:{camp.id}",
                 agents=len(cleaned), total=sum(r["target"] for r in cleaned))
    return quota_rows(camp.id)


def quota_rows(campaign_id: int) -> list[Quota]:
    return list(db.session.scalars(select(Quota).join(Staff, Staff.id == Quota.staff_id)
                                   .where(Quota.campaign_id == campaign_id).order_by(Staff.employee_code)))


def start_assignment(camp: Campaign, actor_id: int | None, *, move_absent: bool = False):
    """Queue an assignment run (a background job); returns the job."""
    if camp.status not in ("active", "paused"):
        raise Conflict(f"the campaign is {camp.status}: launch it first")
    job = jobs.start("campaign_assign", starter_id=actor_id,
                     params={"campaign_id": camp.id, "move_absent": bool(move_absent)})
    camp.last_job_id = job.id
    camp.updated_at = clock.utcnow_naive()
    db.session.flush()
    audit.record("campaign.assign", actor_id=actor_id, target=f"campaign:{camp.id}",
                 job_id=job.id, move_absent=bool(move_absent))
    return job


def launch(camp: Campaign, actor_id: int | None, *, version=None):
    """draft → active, then assignment as a background job. Needs at least
    one agent with a quota (otherwise nobody could call anyone)."""
    _check_version(camp, version)
    if camp.status != "draft":
        raise Conflict(f"the campaign is {camp.status}; only a draft can be launched")
    has_quota = db.session.scalar(select(Quota.staff_id).where(Quota.campaign_id == camp.id, Quota.target > 0,
                                                               Quota.absent.is_(False)).limit(1))
    if has_quota is None:
        raise _invalid({"quotas": "give at least one agent who is not absent a target above 0 first"})
    now = clock.utcnow_naive()
    camp.status = "active"
    camp.launched_at = now
    camp.launched_as_of = camp.as_of or clock.now().date()
    audit.record("campaign.launch", actor_id=actor_id, target=f"campaign:{camp.id}")
    return start_assignment(camp, actor_id)


def set_status(camp: Campaign, new: str, actor_id: int | None, *, version=None) -> Campaign:
    """active ⇄ paused, active/paused → closed (launch is ``launch``). Closing
    closes every open item, which frees the clients for other campaigns."""
    _check_version(camp, version)
    if new not in rules.TRANSITIONS:
        raise _invalid({"status": f"unknown status {new!r}"})
    if new == "active" and camp.status == "draft":
        raise Conflict("launch a draft with its Launch action (it runs the assignment)")
    if not rules.may_transition(camp.status, new):
        raise Conflict(f"a campaign cannot go from {camp.status} to {new}")
    now = clock.utcnow_naive()
    old, camp.status, camp.updated_at = camp.status, new, now
    if new == "closed":
        camp.closed_at = now
        db.session.execute(update(CampaignItem)
                           .where(CampaignItem.campaign_id == camp.id,
                                  CampaignItem.status.in_(OPEN_ITEM_STATUSES))
                           .values(status="closed", closed_at=now, close_reason="campaign_closed")
                           .execution_options(synchronize_session=False))
    db.session.flush()
    audit.record("campaign.status", actor_id=actor_id, target=f"campaign:{camp.id}", old=old, new=new)
    return camp


def close_open_items(client_id: int, reason: str, now) -> int:
    """A client who may no longer be called leaves every queue: their open
    items (pool, queued, claimed, callback, retry) are closed with the reason.
    Holdout items stay: the control group is measured, never called."""
    res = db.session.execute(
        update(CampaignItem)
        .where(CampaignItem.client_id == client_id,
               CampaignItem.status.in_(("pool", "queued", "claimed", "callback", "retry")))
        .values(status="closed", closed_at=now, close_reason=reason)
        .execution_options(synchronize_session=False))
    return res.rowcount or 0
