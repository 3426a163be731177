"""Numbers in URLs: past what the database holds, or not ASCII digits, they are 404s, never 500s."""

import pytest

from portal import params

HUGE = "99999999999999999999"


@pytest.mark.parametrize("url", [
    f"/orders/{HUGE}", f"/orders/?before={HUGE}", f"/orders/?after={HUGE}", f"/orders/?store={HUGE}",
    f"/ledger/withdrawals/{HUGE}", f"/ledger/orders?before={HUGE}", f"/ledger/journal?before={HUGE}",
    f"/ledger/journal?order={HUGE}", f"/ledger/?store={HUGE}", "/ledger/journal?before=٣", "/orders/?after=٣",
    f"/insights/follow-up/open?page={HUGE}", f"/insights/follow-up/open?page={params.MAX_PAGE + 1}",
])
def test_numbers_past_the_columns_are_404s(client, owner, db, url):
    assert client.login_as(owner).get(url).status_code == 404


def test_pages_within_bounds_still_render(client, owner, db):
    client.login_as(owner)
    assert client.get(f"/ledger/journal?before={params.MAX_ID}").status_code == 200
    assert client.get("/orders/?before=2").status_code == 200
    assert client.get(f"/ledger/orders?before={params.MAX_ID}").status_code == 200


def test_is_id_takes_ascii_digits_within_32_bits_only():
    assert params.is_id("1") and params.is_id(params.MAX_ID)
    assert not any(params.is_id(v) for v in ("0", "-1", "٣", "1.5", "", str(params.MAX_ID + 1), HUGE))
