"""Every Douyin call and callback against its reference fixture, for the client and the sandbox.

The fixtures are the specification (see harness.py); these tests hold both sides to them.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from portal.douyin.shapes import DouyinContractError, read

from .conftest import BASE
from .harness import AUTHS, FAMILIES, KINDS, all_fixture_names, conforms, drop_path, has_path, load, request_sample, response_data, substitute

CASES = {}
for module_path in sorted(Path(__file__).parent.glob("cases_*.py")):
    module = importlib.import_module(f"tests.contracts.{module_path.stem}")
    for case in module.CASES:
        assert case.fixture not in CASES, f"two cases for {case.fixture}"
        CASES[case.fixture] = case

NAMES = all_fixture_names()
CALLS = [c for c in CASES.values() if c.call is not None]
SANDBOX = [c for c in CASES.values() if c.sandbox is not None]


def _ids(cases):
    return [c.fixture for c in cases]


def _required_reply_paths():
    out = []
    for case in CALLS:
        if case.reply is None:
            continue
        out.extend((case.fixture, path) for path, required in case.reply.paths("") if required)
    return out


# --- the fixtures themselves ------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_fixture_names_its_source_or_why_not(name):
    fixture = load(name)
    assert fixture["name"] == name
    assert fixture["kind"] in KINDS
    assert fixture["family"] in FAMILIES
    assert fixture["request"]["auth"] in AUTHS
    assert fixture["request"]["method"] in ("GET", "POST")
    assert fixture["request"]["path"].startswith("/")
    assert "body" in fixture["response"]
    if fixture["status"] == "confirmed":
        assert fixture["sources"], "a confirmed fixture names at least one reference"
        for source in fixture["sources"]:
            assert source["repo"].count("/") == 1
            assert source["path"]
            assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), source
            assert source["shows"]
    else:
        assert fixture["status"] == "unconfirmed"
        assert len(fixture["unconfirmed"]) > 20, "say why no reference confirms it"
    for path in fixture["request"].get("required", []):
        assert has_path(request_sample(fixture), path), f"request.required {path} is not in the sample"
    for path in fixture["response"].get("required", []):
        assert has_path(fixture["response"]["body"], path), f"response.required {path} is not in the sample"


def test_every_fixture_has_a_case_and_every_case_a_fixture():
    assert sorted(CASES) == NAMES


# --- the client ------------------------------------------------------------------------------

def _serve(mock, fixture, body=None):
    if fixture["name"] != "client_token":
        mock.add(responses.POST, BASE + "/oauth/client_token/", json=load("client_token")["response"]["body"])
    method = getattr(responses, fixture["request"]["method"])
    mock.add(method, re.compile(re.escape(BASE + fixture["request"]["path"]) + r"(\?.*)?$"),
             json=body if body is not None else fixture["response"]["body"])


def _sent(mock, fixture):
    path = fixture["request"]["path"]
    calls = [c for c in mock.calls if urlsplit(c.request.url).path == path]
    assert calls, f"the client never called {path}"
    return calls[-1].request


def _query_problems(sent, reference: dict) -> list[str]:
    problems = []
    for key, value in sent.items():
        if key not in reference:
            problems.append(f"query {key}: not in the reference")
        elif isinstance(reference[key], (int, float)) and not isinstance(reference[key], bool) and not value.lstrip("-").isdigit():
            problems.append(f"query {key}={value!r}: the reference has a number")
    return problems


@pytest.mark.parametrize("case", CALLS, ids=_ids(CALLS))
def test_client_sends_the_reference_request_and_reads_the_reply(case, reference_client):
    client, mock = reference_client
    fixture = load(case.fixture)
    request = fixture["request"]
    _serve(mock, fixture)

    case.call(client)

    sent = _sent(mock, fixture)
    assert sent.method == request["method"]
    auth = request["auth"]
    assert ("access-token" in sent.headers) == (auth in ("access-token",)), auth
    assert ("Byte-Authorization" in sent.headers) == (auth == "byte-authorization"), auth
    if request["method"] == "GET":
        query = dict(parse_qsl(urlsplit(sent.url).query))
        assert _query_problems(query, request.get("query") or {}) == []
        missing = [p for p in request.get("required", []) if p not in query]
        assert missing == []
        assert sent.body in (None, b"")
    else:
        body = json.loads(sent.body)
        assert conforms(body, request.get("body") or {}) == []
        missing = [p for p in request.get("required", []) if not has_path(body, p)]
        assert missing == [], f"required request fields not sent: {missing}"


@pytest.mark.parametrize("case", [c for c in CALLS if c.reply is not None], ids=_ids([c for c in CALLS if c.reply is not None]))
def test_every_field_the_client_reads_is_in_the_reference_reply(case):
    data = response_data(load(case.fixture))
    unseen = [path for path, _required in case.reply.paths("") if not has_path(data, path)]
    assert unseen == [], f"the client reads fields the reference reply does not show: {unseen}"


@pytest.mark.parametrize(("name", "path"), _required_reply_paths(), ids=[f"{n}:{p}" for n, p in _required_reply_paths()])
def test_client_refuses_a_reply_without_a_required_field(name, path, reference_client):
    client, mock = reference_client
    fixture = load(name)
    body = copy.deepcopy(fixture["response"]["body"])
    container = body["data"] if isinstance(body.get("data"), (dict, list)) else body
    assert drop_path(container, path), path
    _serve(mock, fixture, body)

    with pytest.raises(DouyinContractError) as caught:
        CASES[name].call(client)
    assert caught.value.path.replace("[0]", "[]").startswith(path.split("[]")[0])


# --- the sandbox -----------------------------------------------------------------------------

def _send(world, fixture, query=None, body=None):
    request = fixture["request"]
    headers = {}
    if request["auth"] == "access-token":
        headers["access-token"] = world.token
    if request["method"] == "GET":
        return world.client.get(request["path"], query_string=query, headers=headers)
    return world.client.post(request["path"], data=json.dumps(body, ensure_ascii=False),
                             headers=dict(headers, **{"Content-Type": "application/json"}))


def _prepared(case, world):
    fixture = load(case.fixture)
    mapping = case.sandbox(world, fixture) or {}
    query = substitute(fixture["request"].get("query"), mapping)
    body = substitute(fixture["request"].get("body"), mapping)
    if query:
        query = {k: (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in query.items()}
    return fixture, query, body


def _error_code(fixture, reply: dict):
    if fixture["family"] in ("trade_basic",):
        return reply.get("err_no")
    data = reply.get("data") if isinstance(reply.get("data"), dict) else {}
    # poi/supplier replies carry error_code as a string ("0" is success), as the reference shows.
    return int(data.get("error_code") or 0) or (reply.get("extra") or {}).get("error_code") or reply.get("err_no")


@pytest.mark.parametrize("case", SANDBOX, ids=_ids(SANDBOX))
def test_sandbox_answers_the_reference_request_in_the_reference_shape(case, sandbox_world):
    fixture, query, body = _prepared(case, sandbox_world)

    resp = _send(sandbox_world, fixture, query, body)

    reply = resp.get_json()
    assert resp.status_code == fixture["response"].get("status", 200), reply
    assert not _error_code(fixture, reply), reply
    assert conforms(reply, fixture["response"]["body"], maps=frozenset(fixture["response"].get("maps", ()))) == []
    data = response_data({"family": fixture["family"], "response": {"body": reply}})
    wanted = list(fixture["response"].get("required", []))
    if case.reply is not None:
        wanted_data = [p for p, required in case.reply.paths("") if required]
    else:
        wanted_data = []
    assert [p for p in wanted if not has_path(reply, p)] == []
    assert [p for p in wanted_data if not has_path(data, p)] == []


def _drifts():
    out = []
    for case in SANDBOX:
        fixture = load(case.fixture)
        out.append((case, "unknown", "x_unknown_field"))
        for path in fixture["request"].get("required", []):
            out.append((case, "missing", path))
    return out


@pytest.mark.parametrize(("case", "mode", "path"), _drifts(), ids=[f"{c.fixture}:{m}:{p}" for c, m, p in _drifts()])
def test_sandbox_refuses_a_request_that_drifts_from_the_reference(case, mode, path, sandbox_world):
    fixture, query, body = _prepared(case, sandbox_world)
    target = query if fixture["request"]["method"] == "GET" else body
    if mode == "unknown":
        target[path] = "1"
    else:
        assert drop_path(target, path)

    resp = _send(sandbox_world, fixture, query, body)

    assert _error_code(fixture, resp.get_json()), resp.get_json()


@pytest.mark.parametrize("case", [c for c in SANDBOX if load(c.fixture)["request"]["method"] == "POST" and load(c.fixture)["request"].get("body")],
                         ids=_ids([c for c in SANDBOX if load(c.fixture)["request"]["method"] == "POST" and load(c.fixture)["request"].get("body")]))
def test_sandbox_refuses_a_field_of_the_wrong_type(case, sandbox_world):
    fixture, query, body = _prepared(case, sandbox_world)
    key = next(iter(body))
    body[key] = [] if not isinstance(body[key], list) else "x"

    resp = _send(sandbox_world, fixture, query, body)

    assert _error_code(fixture, resp.get_json()), resp.get_json()


# --- callbacks -------------------------------------------------------------------------------

EMITS = [c for c in CASES.values() if c.emit is not None]
ACCEPTS = [c for c in CASES.values() if c.accept is not None]


@pytest.mark.parametrize("case", EMITS, ids=_ids(EMITS))
def test_sandbox_sends_the_callback_in_the_reference_shape(case, sandbox_world):
    fixture = load(case.fixture)
    reference = request_sample(fixture)

    sent = case.emit(sandbox_world)

    assert conforms(sent, reference) == []
    missing = [p for p in fixture["request"].get("required", []) if not has_path(sent, p)]
    assert missing == []


READS = [c for c in CASES.values() if c.reads is not None]


@pytest.mark.parametrize("case", READS, ids=_ids(READS))
def test_every_field_the_portal_reads_from_a_callback_is_in_the_reference_message(case):
    sample = request_sample(load(case.fixture))
    message = sample.get("msg", sample.get("content"))
    unseen = [path for path, _required in case.reads.paths("") if not has_path(message, path)]
    assert unseen == [], f"the portal reads fields the reference message does not show: {unseen}"


@pytest.mark.parametrize("case", READS, ids=_ids(READS))
def test_the_portal_reads_the_reference_message(case):
    sample = request_sample(load(case.fixture))

    record = read(case.reads, sample.get("msg", sample.get("content")))

    assert set(record) <= set(case.reads.fields)


@pytest.mark.parametrize("case", ACCEPTS, ids=_ids(ACCEPTS))
def test_portal_accepts_the_reference_callback_and_acks_as_the_reference_does(case, request):
    fixture = load(case.fixture)

    resp = case.accept(request, fixture)

    assert resp.status_code == fixture["response"].get("status", 200)
    assert resp.get_json() == fixture["response"]["body"]
