"""Imports every model module so the metadata is complete (Alembic, create_all)."""

from portal import audit, mail, notifications, outbox  # noqa: F401
from portal.accounts import models as accounts_models  # noqa: F401
from portal.admin import models as admin_models  # noqa: F401
from portal.catalog import models as catalog_models  # noqa: F401
from portal.douyin import events  # noqa: F401
from portal.insights import models as insights_models  # noqa: F401
from portal.ledger import models as ledger_models  # noqa: F401
from portal.onboarding import models as onboarding_models  # noqa: F401
from portal.orders import models as orders_models  # noqa: F401
from portal.redemption import models as redemption_models  # noqa: F401
from portal.settings import models as settings_models  # noqa: F401
