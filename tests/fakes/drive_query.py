"""The subset of Drive's `q` language and `fields` masks that billsync sends, for the fake."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]
_STRING = r"'((?:[^'\\]|\\.)*)'"
_TERMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Callable[[Record], bool]]]] = []


class QueryError(ValueError):
    """A q the fake does not understand: the real API would answer 400 Invalid Value."""


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _term(pattern: str) -> Callable[[Any], Any]:
    def add(build: Any) -> Any:
        _TERMS.append((re.compile(rf"^\s*{pattern}\s*$", re.IGNORECASE | re.DOTALL), build))
        return build

    return add


@_term(rf"(name|mimeType)\s*(=|!=)\s*{_STRING}")
def _equals(match: re.Match[str]) -> Callable[[Record], bool]:
    name, op, value = match.group(1), match.group(2), _unquote(match.group(3))
    field = "mimeType" if name.lower() == "mimetype" else "name"
    return lambda f: (f.get(field) == value) == (op == "=")


@_term(rf"{_STRING}\s+in\s+parents")
def _in_parents(match: re.Match[str]) -> Callable[[Record], bool]:
    parent = _unquote(match.group(1))
    return lambda f: parent in f.get("parents", [])


@_term(r"trashed\s*=\s*(true|false)")
def _trashed(match: re.Match[str]) -> Callable[[Record], bool]:
    wanted = match.group(1).lower() == "true"
    return lambda f: bool(f.get("trashed")) == wanted


@_term(rf"appProperties\s+has\s*\{{\s*key\s*=\s*{_STRING}\s+and\s+value\s*=\s*{_STRING}\s*\}}")
def _app_property(match: re.Match[str]) -> Callable[[Record], bool]:
    key, value = _unquote(match.group(1)), _unquote(match.group(2))
    return lambda f: (f.get("appProperties") or {}).get(key) == value


def _split_and(q: str) -> list[str]:
    """Split on top-level `and` (outside quotes and braces)."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(q):
        char = q[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == "'":
                quoted = False
        elif char == "'":
            quoted = True
        elif char in "{}":
            depth += 1 if char == "{" else -1
        elif depth == 0 and q[i : i + 5].lower() == " and ":
            parts.append(q[start:i])
            start = i + 5
            i += 4
        i += 1
    if quoted or depth:
        raise QueryError(q)
    parts.append(q[start:])
    return [part for part in parts if part.strip()]


@dataclass(frozen=True)
class Query:
    tests: tuple[Callable[[Record], bool], ...]

    @classmethod
    def parse(cls, q: str) -> Query:
        tests = []
        for part in _split_and(q):
            for pattern, build in _TERMS:
                match = pattern.match(part)
                if match:
                    tests.append(build(match))
                    break
            else:
                raise QueryError(part)
        return cls(tuple(tests))

    def matches(self, record: Record) -> bool:
        return all(test(record) for test in self.tests)


def _parse_fields(text: str) -> dict[str, Any]:
    """'a,b(c,d),e' -> {'a': {}, 'b': {'c': {}, 'd': {}}, 'e': {}} ('*' is everything)."""
    tree: dict[str, Any] = {}
    stack = [tree]
    name = ""
    for char in text + ",":
        if char == "(":
            child: dict[str, Any] = {}
            stack[-1][name.strip()] = child
            stack.append(child)
            name = ""
        elif char in ",)":
            if name.strip():
                stack[-1][name.strip()] = {}
            name = ""
            if char == ")":
                stack.pop()
        else:
            name += char
    return tree


def project(value: Any, fields: str) -> Any:
    """Keep only the fields a `fields` mask asks for, as Google does."""
    return _project(value, _parse_fields(fields))


def _project(value: Any, tree: dict[str, Any]) -> Any:
    if not tree or "*" in tree:
        return value
    if isinstance(value, list):
        return [_project(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _project(value[key], sub) for key, sub in tree.items() if key in value}
