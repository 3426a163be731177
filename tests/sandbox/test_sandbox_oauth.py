"""client_token: issue, expiry, the 5-minute grace, newest-two, the 500 / 5 min limit."""


def token_call(client, world, secret=None, key=None):
    return client.post("/oauth/client_token/", json={
        "client_key": key or world.appid, "client_secret": secret or world.secret,
        "grant_type": "client_credential"}).get_json()


def poi_query(world, token):
    return world.get("/goodlife/v1/shop/poi/query/", token=token, account_id=world.account_id).get_json()


def test_client_token_issues_clt_token_valid_two_hours(client, world):
    body = token_call(client, world)
    assert body["message"] == "success"
    assert body["data"]["access_token"].startswith("clt.")
    assert body["data"]["expires_in"] == 7200 and body["data"]["error_code"] == 0
    token = body["data"]["access_token"]
    assert poi_query(world, token)["data"]["error_code"] == 0
    world.control(advance_seconds=7199)
    assert poi_query(world, token)["data"]["error_code"] == 0
    world.control(advance_seconds=2)
    assert poi_query(world, token)["data"]["error_code"] == 2190008


def test_client_token_errors(client, world):
    assert token_call(client, world, secret="wrong")["data"]["error_code"] == 10013
    assert token_call(client, world, key="tt0000000000000000")["data"]["error_code"] == 10003
    r = client.post("/oauth/client_token/", json={"client_key": world.appid}).get_json()
    assert r["data"]["error_code"] == 10002 and r["message"] == "error"


def test_previous_token_lives_five_minutes_after_refetch(client, world):
    old = world.token
    new = token_call(client, world)["data"]["access_token"]
    world.control(advance_seconds=299)
    assert poi_query(world, old)["data"]["error_code"] == 0
    world.control(advance_seconds=2)
    assert poi_query(world, old)["data"]["error_code"] == 2190008
    assert poi_query(world, new)["data"]["error_code"] == 0


def test_only_the_newest_two_tokens_are_valid(client, world):
    first = world.token
    second = token_call(client, world)["data"]["access_token"]
    third = token_call(client, world)["data"]["access_token"]
    assert poi_query(world, first)["data"]["error_code"] == 2190008
    assert poi_query(world, second)["data"]["error_code"] == 0
    assert poi_query(world, third)["data"]["error_code"] == 0


def test_unknown_token_is_invalid(world):
    assert poi_query(world, "clt.nope")["data"]["error_code"] == 2190002


def test_more_than_500_calls_in_five_minutes_gives_10020(client, world):
    # the world fixture already made one call
    codes = [token_call(client, world)["data"]["error_code"] for _ in range(499)]
    assert set(codes) == {0}
    assert token_call(client, world)["data"]["error_code"] == 10020
    world.control(advance_seconds=301)
    assert token_call(client, world)["data"]["error_code"] == 0
