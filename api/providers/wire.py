"""Typed reads of one provider JSON object; every failure names the field and where it was.

Each provider subclasses Wire with its own `fail` (its MalformedResponse) and its own readers
(DigitalOcean periods and timestamps, DoiT epoch milliseconds); field names stay in its module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from api.core.money import parse_amount
from api.errors import MalformedResponse


class Wire:
    numbers_as_text: ClassVar[bool] = False  # a bare JSON number where text is documented

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise self.fail(f"{where} is not a JSON object")
        self.data: Mapping[str, Any] = data
        self.where = where

    @staticmethod
    def fail(detail: str) -> MalformedResponse:
        raise NotImplementedError  # each provider says who sent it and what to do

    def text(self, name: str, *, required: bool = False, ids: bool = False) -> str:
        """A text field ('' when absent); `ids`: a bare number is the same id."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(f"{self.where} has no '{name}'")
            return ""
        if (ids or self.numbers_as_text) and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self.fail(f"{self.where} has a '{name}' that is not text")
        return value

    def decimal(
        self,
        name: str,
        *,
        required: bool = False,
        parse: Callable[[object], Decimal] = parse_amount,
        what: str = "an amount",
    ) -> Decimal | None:
        """A money or quantity field as Decimal (None when absent)."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(f"{self.where} has no '{name}'")
            return None
        try:
            return parse(value)
        except ValueError:
            raise self.fail(f"{self.where} has a '{name}' that is not {what}") from None
