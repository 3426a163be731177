"""Wire shapes: what the portal reads from each Douyin reply, checked on arrival.

Every typed client method names the shape of its reply's `data`. The reply is checked against
it: a required field that is missing, or any declared field of the wrong type, raises
`DouyinContractError` (nothing downstream guesses). What comes back is a `Record`, a dict
holding only the declared fields; reading a field the shape does not declare raises
`UndeclaredField`, so the portal cannot depend on a field no contract fixture shows
(tests/contracts/ proves every declared path exists in the reference sample).

The same shapes, with `strict=True`, let the sandbox refuse requests with unknown, missing or
mistyped fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import DouyinError

__all__ = [
    "ANY_JSON",
    "BOOL",
    "ID",
    "INT",
    "NUM",
    "QINT",
    "QLIST",
    "STR",
    "Arr",
    "DouyinContractError",
    "JsonStr",
    "Map",
    "Obj",
    "Record",
    "Shape",
    "UndeclaredField",
    "opt",
]


class DouyinContractError(DouyinError):
    """A reply (or, in the sandbox, a request) does not have the documented shape. Never retried."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(None, f"Douyin reply does not match its contract: {path or '<root>'} {problem}")
        self.path = path
        self.problem = problem


class UndeclaredField(LookupError):
    """Code read a field its shape does not declare: add it to the shape and to the contract fixture."""


class Shape:
    name = "value"

    def check(self, value: Any, path: str, *, strict: bool) -> Any:
        raise NotImplementedError

    def paths(self, prefix: str) -> Iterator[tuple[str, bool]]:
        """Yield (dotted path, required) for every declared field below this shape."""
        return iter(())


class _Scalar(Shape):
    def __init__(self, name: str, *types: type, reject_bool: bool = True) -> None:
        self.name = name
        self.types = types
        self.reject_bool = reject_bool

    def check(self, value: Any, path: str, *, strict: bool) -> Any:
        if isinstance(value, bool) and self.reject_bool:
            raise DouyinContractError(path, f"is a boolean, expected {self.name}")
        if not isinstance(value, self.types):
            raise DouyinContractError(path, f"is {type(value).__name__}, expected {self.name}")
        return value


class _QueryInt(Shape):
    """A query-string integer: a string of decimal digits (the sandbox reads requests with it)."""

    name = "integer string"

    def check(self, value: Any, path: str, *, strict: bool) -> Any:
        text = str(value)
        if not (text.lstrip("-").isdigit() and text.isascii()):
            raise DouyinContractError(path, f"is {text!r}, expected {self.name}")
        return int(text)


class _QueryList(Shape):
    """A query-string list: comma-separated values."""

    name = "comma-separated list"

    def check(self, value: Any, path: str, *, strict: bool) -> Any:
        items = [v for v in str(value).split(",") if v]
        if not items:
            raise DouyinContractError(path, "is empty")
        return items


class _AnyJson(Shape):
    """Opaque JSON the portal stores but never reads into (kept for the record)."""

    name = "json"

    def check(self, value: Any, path: str, *, strict: bool) -> Any:
        return value


STR = _Scalar("string", str)
INT = _Scalar("integer", int)
NUM = _Scalar("number", int, float)
BOOL = _Scalar("boolean", bool, reject_bool=False)
# Douyin serialises some 64-bit ids as numbers in one reply and strings in another (SK reads them
# with NumericalStringReadOnlyConverter): accept either, the reader converts with str().
ID = _Scalar("id (number or string)", int, str)
QINT = _QueryInt()
QLIST = _QueryList()
ANY_JSON = _AnyJson()


class _Optional:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape


def opt(shape: Shape) -> Any:
    """Mark a field of an `Obj` as optional: it may be absent or null."""
    return _Optional(shape)


class Record(dict):
    """A checked object: only the declared fields, each read through its declaration."""

    __slots__ = ("declared", "where")

    def __init__(self, values: Mapping[str, Any], declared: frozenset[str], where: str) -> None:
        super().__init__(values)
        self.declared = declared
        self.where = where

    def _guard(self, key: Any) -> None:
        if key not in self.declared:
            raise UndeclaredField(f"{self.where or '<root>'}.{key} is not declared in its Douyin shape")

    def __getitem__(self, key: Any) -> Any:
        self._guard(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._guard(key)
        return super().get(key, default)

    def __contains__(self, key: Any) -> bool:
        self._guard(key)
        return super().__contains__(key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Record, (dict(self), self.declared, self.where))


class Obj(Shape):
    """A JSON object; `fields` maps names to shapes (wrap in `opt()` when it may be absent)."""

    name = "object"

    def __init__(self, **fields: Shape | _Optional) -> None:
        self.fields: dict[str, tuple[Shape, bool]] = {}
        for key, spec in fields.items():
            if isinstance(spec, _Optional):
                self.fields[key] = (spec.shape, False)
            else:
                self.fields[key] = (spec, True)
        self.declared = frozenset(self.fields)

    def check(self, value: Any, path: str, *, strict: bool) -> Record:
        if not isinstance(value, Mapping):
            raise DouyinContractError(path, f"is {type(value).__name__}, expected object")
        if strict:
            unknown = sorted(set(value) - self.declared)
            if unknown:
                raise DouyinContractError(_join(path, unknown[0]), "is not a known field")
        out: dict[str, Any] = {}
        for key, (shape, required) in self.fields.items():
            where = _join(path, key)
            item = value.get(key)
            if item is None:
                if required:
                    raise DouyinContractError(where, "is missing")
                continue
            out[key] = shape.check(item, where, strict=strict)
        return Record(out, self.declared, path)

    def paths(self, prefix: str) -> Iterator[tuple[str, bool]]:
        # A field required inside an optional object is not always there: only required all the way up.
        for key, (shape, required) in self.fields.items():
            where = _join(prefix, key)
            yield where, required
            for path, inner in shape.paths(where):
                yield path, required and inner


class Arr(Shape):
    """A JSON array whose every item has `item`'s shape."""

    name = "array"

    def __init__(self, item: Shape) -> None:
        self.item = item

    def check(self, value: Any, path: str, *, strict: bool) -> list[Any]:
        if not isinstance(value, list):
            raise DouyinContractError(path, f"is {type(value).__name__}, expected array")
        return [self.item.check(v, f"{path}[{i}]", strict=strict) for i, v in enumerate(value)]

    def paths(self, prefix: str) -> Iterator[tuple[str, bool]]:
        yield from self.item.paths(prefix + "[]")


class Map(Shape):
    """A JSON object with free keys whose every value has `value`'s shape (map<string,string>)."""

    name = "map"

    def __init__(self, value: Shape) -> None:
        self.value = value

    def check(self, value: Any, path: str, *, strict: bool) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise DouyinContractError(path, f"is {type(value).__name__}, expected object")
        return {str(k): self.value.check(v, _join(path, str(k)), strict=strict) for k, v in value.items()}


class JsonStr(Shape):
    """A string holding JSON (the trade callbacks' `msg`, settle_params, attr values)."""

    name = "JSON string"

    def __init__(self, inner: Shape) -> None:
        self.inner = inner

    def check(self, value: Any, path: str, *, strict: bool) -> Any:
        if not isinstance(value, str):
            raise DouyinContractError(path, f"is {type(value).__name__}, expected a JSON string")
        try:
            decoded = json.loads(value)
        except ValueError as exc:
            raise DouyinContractError(path, f"is not valid JSON ({exc})") from exc
        return self.inner.check(decoded, path, strict=strict)

    def paths(self, prefix: str) -> Iterator[tuple[str, bool]]:
        yield from self.inner.paths(prefix)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def read(shape: Shape, value: Any, *, strict: bool = False) -> Any:
    """Check `value` against `shape` and return the checked view (raises DouyinContractError)."""
    return shape.check(value, "", strict=strict)
