"""The ``Select``s behind a privacy request: every table that holds something
about one client, by ``client_id`` where it has one, and by what it says
(the client's ref, phone or e-mail) where it has only text.

Text and JSON columns are narrowed in SQL with ``LIKE`` on the client's
identifying strings and confirmed in Python (``rules.*_mentions``): a ref
``C1`` must not match ``C10``. These scan their tables; a privacy request is
rare and runs once per client, never on a hot path.
"""
from __future__ import annotations

from sqlalchemy import Select, Text, cast, exists, false, func, or_, select

from ..accounts.models import Staff, Store, Team
from ..bonuses.models import BonusConversion, BonusRun
from ..calls.models import Outcome
from ..campaigns.models import Campaign, CampaignItem
from ..clients.models import Client, ClientErasure, Contact, Visit
from ..core import collation
from ..core.models import AuditLog, Job, JobFileChunk
from ..core.sql import like_escape
from ..extensions import db
from ..imports.models import ImportReject
from ..outbox.models import Message
from ..scoring.models import Conversion
from .rules import Identity


def _like_any(column, needles: list[str]):
    """``column LIKE '%n%'`` for any needle (``%``, ``_`` and ``\\`` escaped)."""
    if not needles:
        return false()
    parts = []
    for n in needles:
        parts.append(column.like(f"%{like_escape(n)}%", escape="\\"))
    return or_(*parts)


def _ci_needles(who: Identity) -> list[str]:
    """The needles in lower case: the e-mail may be written in any case."""
    return [n.lower() for n in who.needles()]


def visits(client_id: int) -> Select:
    return (select(Visit, Store.code, Store.currency).join(Store, Store.id == Visit.store_id)
            .where(Visit.client_id == client_id).order_by(Visit.visited_at, Visit.id))


def contacts(client_id: int) -> Select:
    return (select(Contact, Staff.employee_code).outerjoin(Staff, Staff.id == Contact.staff_id)
            .where(Contact.client_id == client_id).order_by(Contact.at, Contact.id))


def queue_items(client_id: int) -> Select:
    return (select(CampaignItem, Campaign.name, Staff.employee_code, Store.code)
            .join(Campaign, Campaign.id == CampaignItem.campaign_id)
            .outerjoin(Staff, Staff.id == CampaignItem.staff_id)
            .outerjoin(Store, Store.id == CampaignItem.store_id)
            .where(CampaignItem.client_id == client_id).order_by(CampaignItem.campaign_id, CampaignItem.id))


def campaigns(ids: list[int]) -> Select:
    return select(Campaign).where(Campaign.id.in_(ids)).order_by(Campaign.id)


def outcomes(client_id: int) -> Select:
    return (select(Outcome, Staff.employee_code, Team.name)
            .join(Staff, Staff.id == Outcome.staff_id).outerjoin(Team, Team.id == Outcome.team_id)
            .where(Outcome.client_id == client_id).order_by(Outcome.at, Outcome.id))


def messages(client_id: int) -> Select:
    return select(Message).where(Message.client_id == client_id).order_by(Message.created_at, Message.id)


def conversions(client_id: int) -> Select:
    return (select(Conversion, Visit.ref, Staff.employee_code, Staff.name, Team.name)
            .join(Visit, Visit.id == Conversion.visit_id).join(Staff, Staff.id == Conversion.staff_id)
            .outerjoin(Team, Team.id == Conversion.team_id)
            .where(Conversion.client_id == client_id).order_by(Conversion.local_date, Conversion.id))


def bonus_conversions(client_id: int) -> Select:
    return (select(BonusConversion, BonusRun.month, BonusRun.status, Visit.ref, Staff.employee_code, Team.name)
            .join(BonusRun, BonusRun.id == BonusConversion.run_id)
            .outerjoin(Visit, Visit.id == BonusConversion.visit_id)
            .outerjoin(Staff, Staff.id == BonusConversion.staff_id)
            .outerjoin(Team, Team.id == BonusConversion.team_id)
            .where(BonusConversion.client_id == client_id)
            .order_by(BonusConversion.run_id, BonusConversion.month, BonusConversion.id))


def audit_candidates(who: Identity) -> Select:
    """Audit entries whose target is the client, or whose details may name
    them (by ref, phone, e-mail or ``"client_id": <id>``)."""
    text = func.lower(cast(AuditLog.details, Text))
    return (select(AuditLog, Staff.employee_code).outerjoin(Staff, Staff.id == AuditLog.actor_id)
            .where(or_(AuditLog.target == f"client:{who.ref}",
                       _like_any(text, _ci_needles(who) + [f'"client_id": {who.client_id}'])))
            .order_by(AuditLog.id))


def reject_candidates(who: Identity) -> Select:
    """Rejected import rows that may be about the client, with their job."""
    return (select(ImportReject, Job).join(Job, Job.id == ImportReject.job_id)
            .where(_like_any(func.lower(ImportReject.raw), _ci_needles(who)))
            .order_by(Job.created_at, ImportReject.job_id, ImportReject.line))


def job_candidates(who: Identity, job_ids: list[str]) -> Select:
    """Jobs whose parameters, result or error may name the client, and the given ones."""
    needles = _ci_needles(who)
    return select(Job).where(or_(Job.id.in_(job_ids) if job_ids else false(),
                                 _like_any(func.lower(cast(Job.params, Text)), needles),
                                 _like_any(func.lower(cast(Job.result, Text)), needles),
                                 _like_any(func.lower(Job.error), needles)))


def failed_uploads() -> Select:
    """Import jobs that failed with their uploaded file still stored (a
    finished import drops its file)."""
    return (select(Job.id).where(Job.kind == "import", Job.status == "failed",
                                 exists().where(JobFileChunk.job_id == Job.id))
            .order_by(Job.id))


def kept_counts(client_id: int) -> Select:
    """How many of each kept record the client has: one row, one statement."""
    def n(model):
        return select(func.count()).select_from(model).where(model.client_id == client_id).scalar_subquery()
    return select(n(Visit).label("visits"), n(Contact).label("contacts"), n(Outcome).label("outcomes"),
                  n(CampaignItem).label("queue_items"), n(Message).label("messages"),
                  n(Conversion).label("conversions"), n(BonusConversion).label("bonus_conversions"))


def erased_client_by_digest(digest: str) -> Select:
    return (select(Client).join(ClientErasure, ClientErasure.client_id == Client.id)
            .where(ClientErasure.ref_digest == digest))


def lookup(q: str, *, email: str | None, phone_digits: str | None, name: str | None,
           erased_id: int | None, limit: int) -> Select:
    """Clients a person asking about their data may be: by ref, e-mail,
    phone (its last digits) or a part of the name."""
    conds = [Client.ref == q]
    if erased_id is not None:
        conds.append(Client.id == erased_id)
    if email:
        conds.append(func.lower(Client.email) == email.lower())
    if phone_digits:
        conds.append(Client.phone.like(f"%{phone_digits}"))
    if name:
        # Any script, case and width (core/collation.py), in either name order.
        dialect = db.session.get_bind().dialect.name
        first, last = func.coalesce(Client.first_name, ""), func.coalesce(Client.last_name, "")
        conds += [collation.contains(first + " " + last, name, dialect),
                  collation.contains(last + " " + first, name, dialect),
                  collation.contains(last + first, name, dialect)]
    return (select(Client, Store.code, ClientErasure.erased_at)
            .join(Store, Store.id == Client.store_id)
            .outerjoin(ClientErasure, ClientErasure.client_id == Client.id)
            .where(or_(*conds)).order_by(Client.last_name, Client.first_name, Client.ref).limit(limit))
