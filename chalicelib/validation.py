"""Field checks shared by the tenant API: each failure names its field."""
from __future__ import annotations

import re
from collections.abc import Iterable
from email.errors import HeaderParseError
from typing import Any, Literal, overload

from chalicelib.errors import ValidationError

# The one rule for control characters in user text, used by both APIs and by the headers of outbound mail:
# C0 controls but tab, LF and CR, and DEL, are never allowed; line breaks (CR, LF, NEL and the Unicode line and
# paragraph separators, which some mail software and browsers treat as new lines) only in multi-line text.
CONTROL_CHARACTERS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
LINE_BREAKS = "\r\n\x85\u2028\u2029"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_CONTROL_OR_LINE_BREAK = re.compile(f"[{CONTROL_CHARACTERS}{LINE_BREAKS}]")


def has_control_characters(value: str, single_line: bool) -> bool:
    return bool((_CONTROL_OR_LINE_BREAK if single_line else _CONTROL).search(value))


def reject_unknown(body: dict[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown field '{prefix}{unknown[0]}'", field=f"{prefix}{unknown[0]}")


@overload
def text(body: dict[str, Any], field: str, *, required: Literal[True], max_length: int = 1000,
         single_line: bool = True, strip: bool = True, label: str | None = None) -> str: ...
@overload
def text(body: dict[str, Any], field: str, *, required: bool = False, max_length: int = 1000,
         single_line: bool = True, strip: bool = True, label: str | None = None) -> str | None: ...
def text(body: dict[str, Any], field: str, *, required: bool = False, max_length: int = 1000,
         single_line: bool = True, strip: bool = True, label: str | None = None) -> str | None:
    """A string field: trimmed, bounded and, for header-bound values, free of CR/LF and control characters."""
    name = label or field
    value = body.get(field)
    if value is None:
        if required:
            raise ValidationError(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", field=name)
    if strip:
        value = value.strip()
    if required and not value:
        raise ValidationError(f"{name} must not be empty", field=name)
    if len(value) > max_length:
        raise ValidationError(f"{name} must be at most {max_length} characters", field=name)
    if has_control_characters(value, single_line):
        raise ValidationError(f"{name} must be a single line without control characters (CR/LF)" if single_line
                              else f"{name} must not contain control characters", field=name)
    return value or None


def boolean(body: dict[str, Any], field: str, default: bool = False, label: str | None = None) -> bool:
    value = body.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(f"{label or field} must be true or false", field=label or field)
    return value


@overload
def choice(body: dict[str, Any], field: str, allowed: Iterable[str], default: str,
           label: str | None = None) -> str: ...
@overload
def choice(body: dict[str, Any], field: str, allowed: Iterable[str], default: None = None,
           label: str | None = None) -> str | None: ...
def choice(body: dict[str, Any], field: str, allowed: Iterable[str], default: str | None = None,
           label: str | None = None) -> str | None:
    allowed = tuple(allowed)
    value = body.get(field, default)
    if value is None:
        return default
    if value not in allowed:
        name = label or field
        raise ValidationError(f"{name} must be one of: {', '.join(allowed)}", field=name)
    return value


def email_address(value: Any, field: str) -> str:
    """A bare addr-spec (no display name), lower-cased; parsed by the standard library, not a regex."""
    from email.headerregistry import Address  # its parser is 0.002 s of a cold start that reads no address

    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    candidate = value.strip()
    if not candidate or len(candidate) > 254 or has_control_characters(candidate, True) or " " in candidate:
        raise ValidationError(f"{field} is not a valid email address", field=field)
    try:
        address = Address(addr_spec=candidate)
    except (HeaderParseError, ValueError, IndexError, AttributeError):
        # AttributeError: the standard library's own parser trips over some inputs ("0@[") instead of reporting.
        raise ValidationError(f"{field} is not a valid email address", field=field) from None
    if not address.username or "." not in address.domain or address.addr_spec != candidate:
        raise ValidationError(f"{field} is not a valid email address", field=field)
    return candidate.lower()


_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def domain_name(value: Any, field: str) -> str:
    """A DNS domain name (letters, digits, hyphens; at least two labels), lower-cased."""
    if not isinstance(value, str) or not _DOMAIN.fullmatch(value.strip().lower()):
        raise ValidationError(f"{field} must be a domain name like example.com", field=field)
    return value.strip().lower()


def integer(body: dict[str, Any], field: str, minimum: int, maximum: int) -> int | None:
    """An integer field; 22.0 is 22 (JSON Schema 2020-12 counts integral numbers as integers), true is not."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValidationError(f"{field} must be an integer from {minimum} to {maximum}", field=field)
    return value
