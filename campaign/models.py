"""Imports every table so the metadata (and Alembic) sees the whole schema."""
from .accounts.models import ApiToken, Staff, StaffLanguage, StaffRole, Store, Team, UserSession  # noqa: F401
from .clients.models import Client, ClientErasure, Contact, Visit  # noqa: F401
from .core.models import AuditLog, Job, JobFileChunk  # noqa: F401
from .imports.models import ImportReject  # noqa: F401
from .campaigns.models import Campaign, CampaignItem, Quota, Script  # noqa: F401
from .calls import models as calls_models  # noqa: F401,E402
from .scripts import models as scripts_models  # noqa: F401,E402
from .outbox import models as outbox_models  # noqa: F401,E402
from .scoring import models as scoring_models  # noqa: F401,E402
from .bonuses import models as bonus_models  # noqa: F401,E402
