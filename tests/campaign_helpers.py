"""Bulk builders for campaign tests: hundreds of clients in two statements."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count

from sqlalchemy import insert, select

from campaign.campaigns import services
from campaign.clients.models import Client, Visit
from campaign.extensions import db

AS_OF = date(2026, 6, 1)
_refs = count(1)


def add_clients(store, n, *, language="en", days=45, visits=2, spend=10000, step=0, prefix="K",
                **fields) -> list[int]:
    """``n`` clients of ``store`` whose last of ``visits`` completed visits was
    ``days`` (+ i·``step``) days before AS_OF, each visit worth ``spend`` (+ i).
    Returns their ids in creation order."""
    now = datetime(2026, 1, 1)
    first = next(_refs)
    for _ in range(n - 1):
        next(_refs)
    rows = []
    for i in range(n):
        row = {"ref": f"{prefix}{first + i:06d}", "first_name": f"F{first + i}", "last_name": "L",
               "phone": "+48501234567", "phone_callable": True, "language": language,
               "store_id": store.id, "consent_call": True, "created_at": now, "updated_at": now}
        row.update(fields)
        rows.append(row)
    db.session.execute(insert(Client), rows)
    ids = list(db.session.scalars(select(Client.id).where(Client.ref.in_([r["ref"] for r in rows]))
                                  .order_by(Client.id)))
    vrows = []
    for i, cid in enumerate(ids):
        last = AS_OF - timedelta(days=days + i * step)
        for v in range(visits):
            day = last - timedelta(days=30 * v)
            vrows.append({"ref": f"V{cid}-{v}", "client_id": cid, "store_id": store.id,
                          "visited_at": datetime(day.year, day.month, day.day, 10), "local_date": day,
                          "date_only": False, "service": "massage", "amount": spend + i,
                          "status": "completed", "created_at": now, "updated_at": now})
    if vrows:
        db.session.execute(insert(Visit), vrows)
    db.session.commit()
    return ids


def new_campaign(actor=None, **data):
    body = {"name": "Spring win-back", "as_of": AS_OF.isoformat(), "holdout_share": 0}
    body.update(data)
    camp = services.create_campaign(body, actor.id if actor else None)
    db.session.commit()
    return camp


def quotas(camp, rows, actor=None):
    services.set_quotas(camp, [{"employee_code": s.employee_code, "target": t, **extra}
                               for s, t, *more in rows for extra in [more[0] if more else {}]],
                        actor.id if actor else None)
    db.session.commit()


def launch(camp):
    """Activate and run the assignment in this process (the job body, without the queue)."""
    from campaign.campaigns import assignment
    camp.status = "active"
    db.session.commit()
    result = assignment.run(camp.id)
    db.session.commit()
    return result
