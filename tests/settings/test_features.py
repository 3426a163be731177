"""Feature toggles: the edition's default, the operator's override, audited."""

import pytest

from portal.accounts.models import Edition
from portal.audit import AuditEntry
from portal.settings import features

pytestmark = pytest.mark.usefixtures("request_context")


def test_edition_gives_the_default(accounts):
    basic = accounts.org(edition=Edition.BASIC)
    advanced = accounts.org(edition=Edition.ADVANCED)
    assert features.enabled(basic.id, "content_attribution") is False
    assert features.enabled(advanced.id, "content_attribution") is True
    assert features.enabled(basic.id, "followup_messages") is True


def test_override_wins_and_is_audited_once(org, operator, db):
    features.set_feature(org, "content_attribution", False, actor=operator)
    features.set_feature(org, "content_attribution", False, actor=operator)
    assert features.enabled(org.id, "content_attribution") is False
    entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.code == "admin.feature.switched")).all()
    assert len(entries) == 1 and entries[0].actor_id == operator.id and entries[0].payload["enabled"] is False


def test_unknown_feature_name_is_an_error(org):
    with pytest.raises(KeyError):
        features.enabled(org.id, "no_such_feature")
    with pytest.raises(features.FeatureError):
        features.set_feature(org, "no_such_feature", True, actor=None)


def test_edition_change_moves_the_defaults(org, operator):
    features.set_edition(org, "basic", actor=operator)
    assert features.enabled(org.id, "bookings") is False
    with pytest.raises(features.FeatureError):
        features.set_edition(org, "platinum", actor=operator)
