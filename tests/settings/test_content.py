"""Content: mounted products must share the content's POI; tracking codes; performance."""

from datetime import date

import pytest

from portal.settings import content
from portal.settings.errors import SettingsError

pytestmark = pytest.mark.usefixtures("request_context")


def register(org, owner, store, products, *, item="v1", kind="short_video", day=date(2026, 3, 9)):
    return content.register_content(org, kind=kind, title="招牌毛血旺", douyin_item_id=item, published_on=day, store=store, products=products, actor=owner)


def test_tracking_code_follows_the_pattern_and_stays_unique(org, owner, poi_stores, settings_factory):
    product = settings_factory.product(org, [poi_stores[0]])
    first = register(org, owner, poi_stores[0], [product])
    second = register(org, owner, poi_stores[0], [product], item="v2")
    live = register(org, owner, poi_stores[0], [product], item="v3", kind="live")
    assert (first.tracking_code, second.tracking_code, live.tracking_code) == ("shortvideo_0309_douyin", "shortvideo_0309_douyin_2", "live_0309_douyin")
    link = content.tracking_link(first)
    assert "tracking_code=shortvideo_0309_douyin" in link and "channel=short_video" in link


def test_product_of_another_poi_is_refused_with_the_reason(org, owner, poi_stores, settings_factory):
    product = settings_factory.product(org, [poi_stores[1]], name="望京套餐")
    with pytest.raises(SettingsError) as error:
        register(org, owner, poi_stores[0], [product])
    assert error.value.field == "product_ids"
    assert "未绑定门店" in str(error.value) and poi_stores[0].douyin_poi_id in str(error.value) and poi_stores[1].name in str(error.value)


def test_store_without_poi_is_refused(org, owner, settings_factory):
    product = settings_factory.product(org, [org.stores[0]])
    with pytest.raises(SettingsError, match="尚未绑定抖音门店"):
        register(org, owner, org.stores[0], [product])


def test_same_item_cannot_be_registered_twice(org, owner, poi_stores, settings_factory):
    product = settings_factory.product(org, [poi_stores[0]])
    register(org, owner, poi_stores[0], [product])
    with pytest.raises(SettingsError, match="已登记"):
        register(org, owner, poi_stores[0], [product])


def test_performance_follows_orders_with_the_code(org, owner, poi_stores, settings_factory):
    product = settings_factory.product(org, [poi_stores[0]])
    item = register(org, owner, poi_stores[0], [product])
    order = settings_factory.order(org, poi_stores[0], tracking_code=item.tracking_code, vouchers=2)
    order.vouchers[0].status = "redeemed"
    settings_factory.order(org, poi_stores[0], tracking_code="other")
    stats = content.performance(org.id, [item.tracking_code])
    assert stats[item.tracking_code] == {"orders": 1, "paid_fen": 9900, "redeemed": 1}
