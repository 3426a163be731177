"""Linked accounts: one official, four channel, no account both ways, 24 h and 3 unbinds, name follows."""

import pytest

from portal.audit import AuditEntry
from portal.settings import linked, service
from portal.settings.errors import SettingsError

pytestmark = pytest.mark.usefixtures("request_context")


def bind(org, owner, clock, role="official", account_id="dy-1", platform="douyin"):
    return linked.bind(org, platform=platform, role=role, account_id=account_id, actor=owner, now=clock.now())


def test_official_account_takes_the_shop_name(org, owner, clock):
    account = bind(org, owner, clock)
    assert account.display_name == org.name


def test_only_one_official_account(org, owner, clock):
    bind(org, owner, clock)
    with pytest.raises(SettingsError, match="只能绑定一个官方账号"):
        bind(org, owner, clock, account_id="dy-2")


def test_same_account_cannot_be_official_and_channel(org, owner, clock):
    bind(org, owner, clock, role="channel", account_id="dy-9")
    with pytest.raises(SettingsError, match="不能同时作为官方账号和渠道账号"):
        bind(org, owner, clock, role="official", account_id="dy-9")
    bind(org, owner, clock, role="official", account_id="dy-1")
    with pytest.raises(SettingsError, match="官方账号"):
        bind(org, owner, clock, role="channel", account_id="dy-1")


def test_same_id_on_another_platform_is_another_account(org, owner, clock):
    bind(org, owner, clock, role="channel", account_id="dy-9", platform="tiktok")
    assert bind(org, owner, clock, role="official", account_id="dy-9", platform="douyin").role == "official"


def test_fourth_channel_account_binds_and_fifth_is_refused(org, owner, clock):
    for i in range(4):
        bind(org, owner, clock, role="channel", account_id=f"ch-{i}")
    with pytest.raises(SettingsError, match="最多绑定 4 个渠道账号") as error:
        bind(org, owner, clock, role="channel", account_id="ch-5")
    assert error.value.field == "account_id"


def test_unbinding_a_channel_frees_a_place(org, owner, clock):
    accounts = [bind(org, owner, clock, role="channel", account_id=f"ch-{i}") for i in range(4)]
    linked.unbind(accounts[0], actor=owner, now=clock.now())  # channel accounts have no waiting time
    assert bind(org, owner, clock, role="channel", account_id="ch-5").account_id == "ch-5"


def test_official_unbind_refused_at_23h59m_allowed_at_24h(org, owner, clock):
    account = bind(org, owner, clock)
    clock.advance(hours=23, minutes=59)
    with pytest.raises(SettingsError, match="24 小时后才能解绑，还需 0 小时 1 分钟"):
        linked.unbind(account, actor=owner, now=clock.now())
    assert account.unbound_at is None
    clock.advance(minutes=1)
    linked.unbind(account, actor=owner, now=clock.now())
    assert account.unbound_at == clock.now()


def test_third_official_unbind_allowed_fourth_refused(org, owner, clock):
    for i in range(3):
        account = bind(org, owner, clock, account_id=f"off-{i}")
        clock.advance(hours=24)
        linked.unbind(account, actor=owner, now=clock.now())
    assert linked.official_unbinds(org.id) == 3
    fourth = bind(org, owner, clock, account_id="off-3")
    clock.advance(days=5)
    assert "最多只能解绑 3 次" in linked.unbind_problem(fourth, now=clock.now())
    with pytest.raises(SettingsError, match="最多只能解绑 3 次"):
        linked.unbind(fourth, actor=owner, now=clock.now())


def test_shop_rename_renames_the_official_account_and_is_audited(org, owner, clock, db):
    account = bind(org, owner, clock)
    channel = bind(org, owner, clock, role="channel", account_id="ch-1")
    service.rename_shop(org, "新名字火锅", actor=owner)
    assert org.name == "新名字火锅"
    assert account.display_name == "新名字火锅"
    assert channel.display_name == ""  # channel accounts keep their own names
    codes = set(db.session.scalars(db.select(AuditEntry.code).where(AuditEntry.organization_id == org.id)))
    assert {"settings.shop.renamed", "settings.linked_account.renamed", "settings.linked_account.bound"} <= codes
