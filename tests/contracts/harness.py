"""The contract harness: reference fixtures, the cases that tie them to the client and the sandbox.

A fixture (`fixtures/<name>.json`) is one Douyin API or callback in the shape a public reference
shows, with that reference named (repository, path, commit) or marked `unconfirmed` with why.
A `Case` (in `cases_*.py`) says how the portal's client makes that call, which reply shape it
reads, and how to prepare the sandbox so the reference request means something there.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from portal.douyin.shapes import Shape

FIXTURES = Path(__file__).parent / "fixtures"
KINDS = ("call", "callback")
AUTHS = ("access-token", "none", "byte-authorization", "callback-signature", "webhook-signature", "msg-signature")
FAMILIES = ("oauth", "goodlife", "trade_basic", "trade_v2", "apps", "trade_callback", "webhook", "tp_event")


@dataclass(frozen=True)
class Case:
    """How the portal uses one fixture.

    call:    outbound — make the call with a ready `DouyinClient` (the fixture's reply is served).
    reply:   the shape the client reads the reply's data with (every declared path must be in the
             fixture's response sample).
    sandbox: outbound — seed the sandbox for the fixture's request; gets the `SandboxWorld` and the
             fixture, returns {reference value: sandbox value} substitutions for the request.
    emit:    inbound — make the sandbox send this callback; returns the JSON body it sent
             (`msg` already decoded for trade callbacks).
    reads:   inbound — the shape the portal reads the message (a trade callback's `msg`, a
             webhook's `content`) with; every declared path must be in the fixture's sample.
    accept:  inbound — deliver the fixture's request to the portal; gets the pytest `request` and
             the fixture, returns the Flask response.
    """

    fixture: str
    call: Callable[[Any], Any] | None = None
    reply: Shape | None = None
    sandbox: Callable[[Any, dict], dict | None] | None = None
    emit: Callable[[Any], dict] | None = None
    reads: Shape | None = None
    accept: Callable[[Any, dict], Any] | None = None


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def all_fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def response_data(fixture: dict) -> Any:
    """The part of the reference response that the client's reply shape describes."""
    body = fixture["response"]["body"]
    family = fixture["family"]
    if family in ("goodlife", "oauth", "trade_v2") and isinstance(body.get("data"), dict):
        return {k: v for k, v in body["data"].items() if k not in ("error_code", "description")}
    if "data" in body:
        return body["data"]
    return {k: v for k, v in body.items() if k not in ("err_no", "err_msg", "err_tips", "log_id")}


def request_sample(fixture: dict) -> Any:
    """The request's query (GET) or body (POST), with a trade callback's `msg` (or a goodlife
    webhook's `content`) JSON string decoded."""
    request = fixture["request"]
    sample = copy.deepcopy(request.get("query") if request["method"] == "GET" else request.get("body"))
    for key in ("msg", "content") if fixture["kind"] == "callback" else ():
        if isinstance(sample, dict) and isinstance(sample.get(key), str):
            sample[key] = json.loads(sample[key])
    return sample or {}


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def conforms(actual: Any, reference: Any, path: str = "", maps: frozenset[str] = frozenset()) -> list[str]:
    """Problems with `actual` against the reference sample: unknown fields and type differences.

    Arrays compare every actual item with the reference's first item; a reference `null`, or an
    empty reference array or object, shows no shape and accepts anything of that kind. `maps`
    names the objects with free keys (a fixture's "maps", e.g. a status per channel): each of
    their values is compared with the reference's first value.
    """
    if reference is None:
        return []
    if kind_of(actual) != kind_of(reference):
        return [f"{path or '<root>'}: {kind_of(actual)}, reference has {kind_of(reference)}"]
    problems: list[str] = []
    if isinstance(actual, dict) and reference and path in maps:
        sample = next(iter(reference.values()))
        for key, value in actual.items():
            problems.extend(conforms(value, sample, f"{path}.{key}", maps))
    elif isinstance(actual, dict) and reference:
        for key, value in actual.items():
            where = f"{path}.{key}" if path else key
            if key not in reference:
                problems.append(f"{where}: not in the reference")
            else:
                problems.extend(conforms(value, reference[key], where, maps))
    if isinstance(actual, list) and reference:
        for item in actual:
            problems.extend(conforms(item, reference[0], path + "[]", maps))
    return problems


def has_path(value: Any, path: str) -> bool:
    """Whether the dotted path ("a.b[].c", or "[].c" in a top-level array) exists; through
    arrays, in the first item."""
    if path.startswith("[]."):
        return isinstance(value, list) and bool(value) and has_path(value[0], path[3:])
    head, _, rest = path.partition(".")
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    if not isinstance(value, dict) or value.get(key) is None:
        return False
    value = value[key]
    if is_list:
        if not isinstance(value, list) or not value:
            return False
        value = value[0]
    return has_path(value, rest) if rest else True


def drop_path(value: Any, path: str) -> bool:
    """Remove the dotted path from `value` in place (in every array item); whether it was there."""
    if path.startswith("[]."):
        return isinstance(value, list) and any([drop_path(item, path[3:]) for item in value])
    head, _, rest = path.partition(".")
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    if not isinstance(value, dict) or key not in value:
        return False
    if not rest and not is_list:
        del value[key]
        return True
    inner = value[key]
    targets = inner if is_list and isinstance(inner, list) else [inner]
    if not rest:
        del value[key]
        return True
    return any([drop_path(t, rest) for t in targets])


def substitute(value: Any, mapping: dict) -> Any:
    if not mapping:
        return value
    if isinstance(value, dict):
        return {k: substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, mapping) for v in value]
    if isinstance(value, (str, int)) and not isinstance(value, bool) and value in mapping:
        return mapping[value]
    return value
