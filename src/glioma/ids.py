"""Patient identifiers: validated so that they are safe as folder names and wildcards.

Numeric-only IDs are valid (they crashed the original code, which cast them to numbers): IDs are
always kept as strings. Path separators, dots and anything outside ``[A-Za-z0-9_-]`` are refused.
"""

from __future__ import annotations

import re

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_ID_RE = re.compile(rf"^{ID_PATTERN}$")
MAX_ID_LENGTH = 64


def is_valid_id(value: str) -> bool:
    """True if ``value`` can be used as a patient or cohort ID."""
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH and bool(_ID_RE.match(value))


def validate_id(value: str, *, what: str = "patient ID") -> str:
    """Return ``value`` unchanged if it is a valid ID, else raise ``ValueError`` saying why."""
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} is not a string")
    if not value:
        raise ValueError(f"{what} is empty")
    if "/" in value or "\\" in value or ".." in value:
        raise ValueError(f"{what} {value!r} contains a path separator or '..'")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{what} {value!r} is longer than {MAX_ID_LENGTH} characters")
    if not _ID_RE.match(value):
        raise ValueError(
            f"{what} {value!r} has characters outside letters, digits, '_' and '-' "
            "(or does not start with a letter or digit)"
        )
    return value
