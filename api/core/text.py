"""Small text rules: token fingerprints, safe file names, formula-proof cell text, counts."""

from __future__ import annotations

import re
import unicodedata

_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def counted(n: int, one: str, many: str = "", *, grouped: bool = False) -> str:
    """'1 invoice', '2 invoices', '0 line items': `n` with its noun in the right number.
    `many` defaults to `one` + 's'; `grouped` writes 12,345."""
    number = f"{n:,}" if grouped else str(n)
    return f"{number} {one if n == 1 else many or one + 's'}"


def fingerprint(token: str) -> str:
    """A recognisable but useless trace of a secret: 'dop_v1_…a1b2'."""
    token = token.strip()
    if len(token) < 12:
        return "…" + token[-2:] if len(token) > 4 else "…"
    prefix = ""
    match = re.match(r"^([a-z]{2,6}_v\d+_|[a-z]{2,6}_)", token)
    if match:
        prefix = match.group(1)
    return f"{prefix}…{token[-4:]}"


def looks_like_formula(text: str) -> bool:
    return text.startswith(_FORMULA_LEADS)


def safe_file_name(name: str, *, max_length: int = 120) -> str:
    """A name every file system (and Drive) accepts; never empty, never '.' or '..'."""
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE_FILE_CHARS.sub("_", name)
    name = re.sub(r"_*\.{2,}_*", "_", name)  # no '..' path segments, even harmless ones
    name = re.sub(r"_{2,}", "_", name).strip(" .")
    name = re.sub(r"\s+", " ", name)
    if not name:
        name = "_"
    if len(name.encode()) > max_length:
        name = name.encode()[:max_length].decode(errors="ignore").rstrip(" .") or "_"
    return name


def column_letter(index: int) -> str:
    """A spreadsheet column's A1 letters for a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
