"""Packing planned Sheets requests into batchUpdate bodies that fill up to the size limit.

Requests keep their order. A request that does not fit in what is left of a body is cut, when
it is a list of rows (appendCells, updateCells), into a row slice that fills the body and a
rest that opens the next one; any other request closes the body. Cutting is safe because the
planner orders every invoice's requests so that any prefix of them is repaired by a rerun
(its invoice row comes last: see sheets_plan).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

Request = dict[str, Any]
BODY_OVERHEAD = len('{"requests":[]}')
SLICEABLE = ("appendCells", "updateCells")


def size(request: Any) -> int:
    """Bytes of `request` as compact JSON (what goes on the wire)."""
    return len(json.dumps(request, separators=(",", ":")))


def body_size(requests: Sequence[Request]) -> int:
    return size({"requests": list(requests)})


def chunk(groups: Sequence[list[Request]], max_bytes: int) -> list[list[Request]]:
    """Requests of all groups, in order, as bodies of at most `max_bytes` each.

    Only a single row larger than a whole body can make a body pass the limit.
    """
    bodies: list[list[Request]] = []
    current: list[Request] = []
    used = BODY_OVERHEAD
    for request in (request for group in groups for request in group):
        for piece in _fitting(request, max_bytes - used, max_bytes - BODY_OVERHEAD):
            cost = size(piece) + (1 if current else 0)
            if current and used + cost > max_bytes:
                bodies.append(current)
                current, used = [], BODY_OVERHEAD
                cost = size(piece)
            current.append(piece)
            used += cost
    if current:
        bodies.append(current)
    return bodies


def _fitting(request: Request, room: int, full: int) -> Iterator[Request]:
    """`request` whole, or cut into row slices: the first fills `room`, the others `full`."""
    kind = next(iter(request))
    if kind not in SLICEABLE or size(request) + 1 <= room:
        yield request
        return
    rows: list[Any] = request[kind]["rows"]
    bare = size(_with_rows(request, kind, [], 0))
    start = 0
    space = room - 1  # the comma before it
    while start < len(rows):
        end, used = start, bare
        while end < len(rows):
            cost = size(rows[end]) + (1 if end > start else 0)
            if used + cost > space:
                break
            used += cost
            end += 1
        if end == start and space < full:  # not even one row fits here: start a fresh body
            space = full
            continue
        end = max(end, start + 1)  # one row larger than a body goes alone
        yield _with_rows(request, kind, rows[start:end], start)
        start, space = end, full


def _with_rows(request: Request, kind: str, rows: list[Any], offset: int) -> Request:
    body = dict(request[kind], rows=rows)
    if kind == "updateCells" and "start" in body:
        body["start"] = dict(body["start"], rowIndex=body["start"].get("rowIndex", 0) + offset)
    return {kind: body}
