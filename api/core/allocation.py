"""Allocation rules (the Clients tab): each line's client, and cent-exact splits of shared lines.

Rules are rows of `Match`, `Client`, `Billable`, `Markup %`, read by header; the first rule
that matches a line wins. `Match` is `field: pattern` (fields below) or a bare pattern that is
tried against the project, group, resource id and resource uuid. Patterns are case-insensitive
shell globs (`web-*`); a description pattern without a wildcard matches anywhere in the text.
A line no rule matches is "Unallocated", except taxes, credits and support, which are "Shared":
split across the invoice's clients in proportion to their spend, in whole cents.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from fnmatch import translate
from typing import Any, TypeVar

from api.core.money import minor_unit

UNALLOCATED = "Unallocated"
SHARED = "Shared"
MARKUP_RANGE = (Decimal(-100), Decimal(1000))  # percent points: a typo past these re-bills nonsense
CLIENT_COLUMNS = ("Match", "Client", "Billable", "Markup %")
MATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "project": ("Project",),
    "resource": ("Resource ID", "Resource UUID"),
    "group": ("Group",),
    "description": ("Description",),
    "product": ("Product",),
    "category": ("Category",),
    "account": ("Account",),
}
BARE_FIELDS = ("Project", "Group", "Resource ID", "Resource UUID")
SHARED_CATEGORIES = frozenset({"Tax", "Credit"})
_KNOWN_KEYS = frozenset(name.lower() for name in CLIENT_COLUMNS)
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0", ""})
_WILDCARDS = frozenset("*?[")

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Rule:
    """One Clients row: `number` is its place among the rules (1 = first), for messages."""

    number: int
    match: str
    fields: tuple[str, ...]
    pattern: str  # a shell glob, matched ignoring case
    client: str
    billable: bool
    markup: Decimal  # percent points: 15 means 15 %


@dataclass(frozen=True)
class Allocation:
    """Where one line's cost goes."""

    client: str
    billable: bool = False
    markup: Decimal = Decimal(0)

    @property
    def shared(self) -> bool:
        return self.client == SHARED


def parse_rules(rows: Sequence[Mapping[str, Any]]) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Clients rows (dicts keyed by header) -> (the valid rules in order, one message per bad row).

    A bad row (unknown match field, empty client, Billable not yes/no, Markup % not a number)
    is skipped and reported; it never stops the others. A tab without Match and Client columns
    gives no rules and one message.
    """
    if not rows:
        return (), ()
    keys = {_key(name): name for name in rows[0]}
    missing = [name for name in ("Match", "Client") if _key(name) not in keys]
    if missing:
        return (), (f"The Clients tab has no {' or '.join(missing)} column; no rule was applied.",)
    rules: list[Rule] = []
    problems = [said for key, name in keys.items()
                if key not in _KNOWN_KEYS and (said := _misnamed(name))]  # fmt: skip
    for number, row in enumerate(rows, 1):
        values = {_key(name): value for name, value in row.items()}
        if not any(_text(v) for v in values.values()):
            continue
        rule, problem = _rule(number, values)
        if rule is not None:
            rules.append(rule)
        if problem:
            problems.append(problem)
    return tuple(rules), tuple(problems)


def _rule(number: int, values: Mapping[str, Any]) -> tuple[Rule | None, str]:
    match, client = _text(values.get("match")), _text(values.get("client"))
    where = f"Clients rule {number} (Match '{match}')"
    faults: list[str] = []
    if not match:
        faults.append("Match is empty")
    if not client:
        faults.append("Client is empty")
    name, sep, pattern = match.partition(":")
    name = name.strip()
    fields: tuple[str, ...] = BARE_FIELDS
    if sep and name.lower() in MATCH_FIELDS:
        fields, pattern = MATCH_FIELDS[name.lower()], pattern.strip()
        if not pattern:
            faults.append(f"nothing to match after '{name}:' (use '{name}: *' for any value)")
        if name.lower() == "description" and not _WILDCARDS & set(pattern):
            pattern = f"*{pattern}*"
    elif sep and " " not in name and "*" not in name:
        faults.append(f"unknown field '{name}' (use one of {', '.join(MATCH_FIELDS)})")
    else:
        pattern = match
    billable = _yes_no(values.get("billable"))
    if billable is None:
        faults.append(f"Billable must be yes or no, not '{_text(values['billable'])}'")
    markup = _percent(values.get("markup %"))
    if markup is None:
        faults.append(f"Markup % must be a number, not '{_text(values['markup %'])}'")
    elif not MARKUP_RANGE[0] <= markup <= MARKUP_RANGE[1]:
        faults.append(f"Markup % must be between {MARKUP_RANGE[0]} and {MARKUP_RANGE[1]}, "
                      f"not {markup}")  # fmt: skip
    if faults or billable is None or markup is None:
        return None, f"{where}: {'; '.join(faults)}; the rule was skipped."
    return Rule(number, match, fields, pattern, client, billable, markup), ""


def allocate(line: Mapping[str, Any], rules: Iterable[Rule]) -> Allocation:
    """The first matching rule's client; else Shared for taxes, credits and support, else
    Unallocated. A rule whose Client is 'Shared' makes its lines shared too."""
    return allocate_all([line], tuple(rules))[0]


def allocate_all(lines: Sequence[Mapping[str, Any]], rules: Sequence[Rule]) -> list[Allocation]:
    """`allocate` for many lines: the rules are compiled once into one regex per field set
    (alternatives in rule order, so the regex's first match is the first matching rule), and
    each distinct value is matched once (a ledger repeats its projects and resources)."""
    groups: dict[tuple[str, ...], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(rule.fields, []).append(rule)
    compiled = [(fields, _first_rule(group)) for fields, group in groups.items()]
    answers = {rule.number: _answer(rule) for rule in rules}
    result = []
    for line in lines:
        first: int | None = None
        for fields, match in compiled:
            for name in fields:  # every field: another may match an earlier rule
                value = line.get(name)
                number = match(value if type(value) is str else _text(value))
                if number is not None:
                    first = number if first is None else min(first, number)
        if first is not None:
            result.append(answers[first])
        else:
            result.append(Allocation(SHARED if is_shared(line) else UNALLOCATED))
    return result


def _first_rule(group: Sequence[Rule]) -> Callable[[str], int | None]:
    """text -> the number of the first rule of `group` matching it (None: none does), one
    regex of alternatives for the group, each text matched once."""
    regex = re.compile("|".join(f"(?P<r{i}>{translate(rule.pattern)})"
                                for i, rule in enumerate(group)), re.IGNORECASE)  # fmt: skip

    @functools.cache
    def first(text: str) -> int | None:
        found = regex.match(text)
        return None if found is None else group[int(str(found.lastgroup)[1:])].number

    return first


def _answer(rule: Rule) -> Allocation:
    if rule.client.lower() == SHARED.lower():
        return Allocation(SHARED)
    return Allocation(rule.client, rule.billable, rule.markup)


def is_shared(line: Mapping[str, Any]) -> bool:
    category = _text(line.get("Category"))
    product = _text(line.get("Product")).lower()
    return category in SHARED_CATEGORIES or "support" in product


def split_cents(
    amount: Decimal, weights: Sequence[tuple[K, Decimal]], currency: str
) -> dict[K, Decimal]:
    """Split `amount` across keys in proportion to their positive weights, in whole minor units
    (cents; yen whole), so the parts add up to `amount` exactly (largest-remainder method).

    The remainder units go to the largest fractional parts; ties go to the earlier key in
    `weights` order, so the split is deterministic. A sub-cent tail of `amount` (provider
    amounts with more decimals than the currency) is added to the first key that gets a part.
    With no positive weight the whole amount goes to the first key. Raises ValueError when
    `weights` is empty.
    """
    if not weights:
        raise ValueError("nothing to split across")
    unit = minor_unit(currency)
    sign = -1 if amount < 0 else 1
    whole = (abs(amount) / unit).to_integral_value(rounding=ROUND_FLOOR)
    tail = abs(amount) - whole * unit
    positive = [(key, weight) for key, weight in weights if weight > 0]
    total_weight = sum((weight for _, weight in positive), Decimal(0))
    parts: dict[K, Decimal] = {key: Decimal(0) for key, _ in weights}
    if total_weight <= 0:
        first = weights[0][0]
        parts[first] = amount
        return parts
    shares = [(key, whole * weight / total_weight) for key, weight in positive]
    floors = {key: share.to_integral_value(rounding=ROUND_FLOOR) for key, share in shares}
    left = int(whole - sum(floors.values(), Decimal(0)))
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i][1] - floors[shares[i][0]]), i))
    for index in order[:left]:
        floors[shares[index][0]] += 1
    for key, units in floors.items():
        parts[key] = sign * units * unit
    parts[positive[0][0]] += sign * tail
    return parts


def _key(name: object) -> str:
    return _text(name).lower()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip()


def _misnamed(header: object) -> str:
    """A message for a header that looks like a Clients column misspelt ('Markup', 'Billable?'),
    else '' (a column of the bookkeeper's own, such as Notes, is left alone)."""
    text = _text(header)
    close = difflib.get_close_matches(text.lower(), [c.lower() for c in CLIENT_COLUMNS], 1, 0.6)
    if not text or not close:
        return ""
    meant = next(c for c in CLIENT_COLUMNS if c.lower() == close[0])
    return f"The Clients tab's column '{text}' was ignored: name it '{meant}' to use it."


def _yes_no(value: object) -> bool | None:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)  # a 1/0 number cell (1.0 from a spreadsheet)
    text = _text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


def _percent(value: object) -> Decimal | None:
    """Markup % as percent points: '15', '15%' and 15 are 15; a number cell between -1 and 1
    is a cell formatted as a percent (Excel and Sheets keep a typed 15% as 0.15), so 15."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if number.is_finite() and 0 < abs(number) < 1:
            return (number * 100).normalize()
    text = _text(value).rstrip("%").strip()
    if not text:
        return Decimal(0)
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None
