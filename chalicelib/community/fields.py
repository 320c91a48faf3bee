"""Reading a community request body: every field is checked and every failure collected, then reported at once."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chalicelib.community.envelope import CommunityError, FieldError, invalid
from chalicelib.validation import has_control_characters

REQUIRED = "is a required field"
MAX_ID = 2**53 - 1  # ids stay exact in JavaScript clients
MAX_ID_DIGITS = len(str(MAX_ID))
MAX_UNKNOWN_FIELDS = 10  # an error lists a few unknown names, not every key of a hostile body
MAX_NAME = 100


def parse_body(request: Any) -> dict[str, Any]:
    """The JSON object of a request, read by the one reader both API families use (chalicelib/http.py); what it
    refuses fails in the envelope, on `Body`, `Content-Type` or the field it names."""
    from chalicelib.http import BodyError, read_json_object

    try:
        return read_json_object(request.raw_body, (request.headers or {}).get("content-type"))
    except BodyError as error:
        name = {"body": "Body"}.get(error.field or "", error.field or "Body")
        raise CommunityError(error.status, [FieldError(name, error.problem)]) from None


class Form:
    """Typed reads of one JSON object; `done()` raises a 400 envelope listing every field that failed."""

    def __init__(self, body: dict[str, Any], known: Iterable[str]) -> None:
        self.body = body
        self.errors: list[FieldError] = []
        self.conflicts: list[FieldError] = []
        unknown = [name for name in body if name not in known]
        for name in unknown[:MAX_UNKNOWN_FIELDS]:
            self.fail(name if len(name) <= MAX_NAME else name[:MAX_NAME] + "…", "is not a field of this resource",
                      body[name])
        if len(unknown) > MAX_UNKNOWN_FIELDS:
            self.fail("Body", f"has {len(unknown)} fields that are not fields of this resource", None)

    def keep(self, name: str, value: Any, current: Any) -> None:
        """A field that cannot change once written: sending another value conflicts with the record (409)."""
        if value is not None and value != int(current):
            self.conflicts.append(FieldError(name, "cannot be changed", value))

    def fail(self, name: str, message: str, attempted: Any = None) -> None:
        self.errors.append(FieldError(name, message, echo(attempted)))

    def given(self, name: str) -> bool:
        return name in self.body

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, REQUIRED, None)
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not value.is_integer()):
            self.fail(name, "must be an integer", value)
            return None
        value = int(value)
        if not 0 < value <= MAX_ID:
            self.fail(name, REQUIRED if value == 0 and required else f"must be between 1 and {MAX_ID}", value)
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(name, "must be true or false", value)
            return None
        return value

    def string(self, name: str, required: bool = False, max_length: int = 255,
               single_line: bool = True) -> str | None:
        value = self.body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(name, REQUIRED, value)
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string", value)
            return None
        value = value.strip()
        if not _encodable(value):
            self.fail(name, "must be valid Unicode text (no lone surrogates)", value)
        elif len(value) > max_length:
            self.fail(name, f"must be at most {max_length} characters", value)
        elif has_control_characters(value, single_line):
            self.fail(name, "must not contain control characters" + (" or line breaks" if single_line else ""),
                      value)
        else:
            return value
        return None

    def integer_list(self, name: str, max_items: int) -> list[int] | None:
        value = self.body.get(name)
        if value is None:
            return None
        # 7.0 is an integer to JSON Schema (2020-12, "integer"), as it is to Form.integer.
        if not isinstance(value, list) or any(isinstance(item, bool) or not isinstance(item, int | float)
                                              or (isinstance(item, float) and not item.is_integer())
                                              or not 0 < item <= MAX_ID for item in value):
            self.fail(name, "must be a list of positive integer ids", value)
            return None
        unique = list(dict.fromkeys(int(item) for item in value))
        if len(unique) > max_items:
            self.fail(name, f"must list at most {max_items} ids", value)
            return None
        return unique

    def json_text(self, name: str, max_length: int = 10_000) -> str | None:
        text = self.string(name, max_length=max_length, single_line=False)
        if text is None:
            return None
        try:
            json.loads(text)
        except ValueError:
            self.fail(name, "must be valid JSON", text)
            return None
        return text

    def choice(self, name: str, allowed: tuple[str, ...], required: bool = False) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, REQUIRED, None)
            return None
        match = next((option for option in allowed if isinstance(value, str) and option.lower() == value.lower()),
                     None)
        if match is None:
            self.fail(name, f"must be one of: {', '.join(allowed)}", value)
        return match

    def done(self) -> None:
        if self.errors:
            raise invalid(self.errors)
        if self.conflicts:
            raise CommunityError(409, self.conflicts)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def echo(value: Any) -> Any:
    """Echo what was sent, shortened: an error must not mirror a megabyte back."""
    if isinstance(value, str):
        if not _encodable(value):
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value[:200] + "…" if len(value) > 200 else value
    if isinstance(value, list | dict):
        try:
            text = json.dumps(value)
        except (RecursionError, ValueError):
            return "…"
        return text[:200] + "…" if len(text) > 200 else value
    return value


def _id_text(raw: str) -> bool:
    return raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS and 0 < int(raw) <= MAX_ID


def query_integer(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:  # absent; present but empty is no integer (400), as the document says
        return None
    if not _id_text(raw):
        raise invalid([FieldError(name, "must be a positive integer", echo(raw))])
    return int(raw)


def path_id(raw: str, name: str = "Id") -> int:
    if not _id_text(raw):
        raise invalid([FieldError(name, "must be a positive integer", echo(raw))])
    return int(raw)


def page_size(query: dict[str, str], default: int = 25, maximum: int = 100) -> int:
    raw = query.get("PageSize")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= maximum):
        raise invalid([FieldError("PageSize", f"must be an integer between 1 and {maximum}", echo(raw))])
    return int(raw)
