"""Imports every model module so the metadata is complete (Alembic, create_all)."""

from portal import audit, mail  # noqa: F401
from portal.accounts import models as accounts_models  # noqa: F401
