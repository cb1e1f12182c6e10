"""Read-only queries of the outbox pages (functions returning ``Select``s)."""
from __future__ import annotations

from sqlalchemy import column, func, select, table

from .models import Message

# The campaigns feature depends on this one, not the reverse: its table is
# named here only to label the campaign filter.
_campaigns = table("campaigns", column("id"), column("name"))


def messages(*, status=None, channel=None, campaign_id=None, kind=None):
    q = select(Message)
    if status:
        q = q.where(Message.status == status)
    if channel:
        q = q.where(Message.channel == channel)
    if campaign_id:
        q = q.where(Message.campaign_id == campaign_id)
    if kind:
        q = q.where(Message.kind == kind)
    return q.order_by(Message.due_at.desc(), Message.id.desc())


def status_counts(*, channel=None, campaign_id=None):
    q = select(Message.status, func.count()).group_by(Message.status)
    if channel:
        q = q.where(Message.channel == channel)
    if campaign_id:
        q = q.where(Message.campaign_id == campaign_id)
    return q


def campaign_names():
    """Campaigns that have messages, for the filter: (id, name)."""
    used = select(Message.campaign_id).where(Message.campaign_id.is_not(None)).distinct().subquery()
    return (select(_campaigns.c.id, _campaigns.c.name).where(_campaigns.c.id.in_(select(used.c.campaign_id)))
            .order_by(_campaigns.c.name))
