"""Field types of the API's models: each takes its limits once, and both the check and the JSON Schema come from them.

A failed check raises a pydantic error whose type is a short code and whose context holds the limits
(`too_long` with `max_length`, say); `chalicelib/contract/problems.py` words it for each API family. Board and tenant
models use the same types: what differs between the two families is only the wording.
"""
from __future__ import annotations

import abc
import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.validation import CONTROL_CHARACTERS, LINE_BREAKS, has_control_characters

if TYPE_CHECKING:  # pydantic loads where a model is built or a check fails: a query read without a model loads none
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic_core import PydanticCustomError, core_schema

MAX_BOARD_ID = 2**53 - 1  # ids stay exact in JavaScript clients


def _members(characters: str) -> list[int]:
    """The code points of a regex character-class body such as CONTROL_CHARACTERS ("\x00-\x08…")."""
    points: list[int] = []
    index = 0
    while index < len(characters):
        if index + 2 < len(characters) and characters[index + 1] == "-":
            points.extend(range(ord(characters[index]), ord(characters[index + 2]) + 1))
            index += 3
        else:
            points.append(ord(characters[index]))
            index += 1
    return sorted(set(points))


def _u(characters: str) -> str:
    """The same class written for JSON Schema: every character as a \\u escape of four hex digits, consecutive ones
    as ranges."""
    points, parts = _members(characters), []
    while points:
        end = 0
        while end + 1 < len(points) and points[end + 1] == points[end] + 1:
            end += 1
        if end < 2:  # two neighbours are written as two characters, three or more as a range
            end = 0
        first, last = points[0], points[end]
        parts.append(f"\\u{first:04x}" if first == last else f"\\u{first:04x}-\\u{last:04x}")
        points = points[end + 1:]
    return "".join(parts)


# What str.strip() removes, as a character class: a value that is only these is blank.
_WHITESPACE = "\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SINGLE = CONTROL_CHARACTERS + LINE_BREAKS
_MULTI = CONTROL_CHARACTERS


def text_pattern(single_line: bool, not_blank: bool) -> str:
    """The JSON Schema pattern of the one control-character rule (chalicelib/validation.py)."""
    refused = _u(_SINGLE if single_line else _MULTI)
    if not not_blank:
        return f"^[^{refused}]*$"
    # Written out (not merged with the refused class) as JSON Schema readers expect it; any order matches.
    return f"^[^{refused}]*[^{refused}{_u(_WHITESPACE)}][^{refused}]*$"


def fail(code: str, **context: Any) -> PydanticCustomError:
    """A validation error: `code` names the rule, the context its limits (problems.py words both)."""
    from pydantic_core import PydanticCustomError

    return PydanticCustomError(code, code, context)


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


class _Type(abc.ABC):
    """Base of the field types: a plain validator (our check) and the JSON Schema written from the same fields."""

    @abc.abstractmethod
    def check(self, value: Any) -> Any:
        """The value as the field holds it; raises `fail(...)` or `rule(...)` for a value it refuses."""

    @abc.abstractmethod
    def schema(self) -> dict[str, Any]:
        """The field's JSON Schema."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return self.schema()


@dataclass(frozen=True)
class Text(_Type):
    """A string: trimmed (unless strip=False), bounded, without control characters (nor line breaks when single_line).

    `required`: when the field is sent, it must hold text (null or blank is refused); an optional one that is null
    or blank reads as None. Whether the field may be left out is the model's business (a default or not)."""

    max_length: int = 1000
    required: bool = False
    single_line: bool = True
    strip: bool = True
    description: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def check(self, value: Any) -> str | None:
        if value is None:
            if self.required:
                raise fail("required")
            return None
        if not isinstance(value, str):
            raise fail("string_type")
        if not _encodable(value):
            raise fail("unicode")
        if self.strip:
            value = value.strip()
        if not value:
            if self.required:
                raise fail("blank")
            return None
        if len(value) > self.max_length:
            raise fail("too_long", max_length=self.max_length)
        if has_control_characters(value, self.single_line):
            raise fail("control", single_line=self.single_line)
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.required:
            schema["minLength"] = 1
        schema["maxLength"] = self.max_length
        schema["pattern"] = text_pattern(self.single_line, self.required)
        if self.description:
            schema["description"] = self.description
        schema.update(dict(self.extra))
        return _nullable(schema, not self.required)


@dataclass(frozen=True)
class Checked(_Type):
    """A Text whose value must also pass `test`; `code` names the failure (an IANA zone, an E.164 number)."""

    text: Text
    test: Callable[[str], Any]
    code: str
    pattern: str | None = None
    enum: tuple[str, ...] = ()

    def check(self, value: Any) -> str | None:
        result = self.text.check(value)
        if result is not None and not self.test(result):
            raise fail(self.code)
        return result

    def schema(self) -> dict[str, Any]:
        schema = self.text.schema()
        if self.pattern:
            schema["pattern"] = self.pattern
        if self.enum:
            for constraint in ("pattern", "maxLength"):
                schema.pop(constraint, None)
            schema["enum"] = [*self.enum, None] if not self.text.required else list(self.enum)
        return schema


@dataclass(frozen=True)
class Choice(_Type):
    """One of `values` (case-insensitive when asked, then answered in the listed spelling); None reads as `default`."""

    values: tuple[str, ...]
    default: str | None = None
    required: bool = False
    ignore_case: bool = False
    description: str | None = None

    def check(self, value: Any) -> str | None:
        if value is None:
            if self.required:
                raise fail("required")
            return self.default
        if isinstance(value, str):
            for option in self.values:
                if option == value or (self.ignore_case and option.lower() == value.lower()):
                    return option
        raise fail("enum", values=", ".join(self.values))

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "enum": list(self.values)}
        if self.default is not None:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return _nullable(schema, not self.required)


@dataclass(frozen=True)
class Flag(_Type):
    """true or false (never "true" or 1); None reads as `default`."""

    default: bool | None = None
    description: str | None = None

    def check(self, value: Any) -> bool | None:
        if value is None:
            return self.default
        if not isinstance(value, bool):
            raise fail("bool_type")
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["boolean", "null"]}
        if self.description:
            schema["description"] = self.description
        return schema


def _integral(value: Any) -> int | None:
    """22 and 22.0 (JSON Schema 2020-12 counts integral numbers as integers); not true, "22" or 22.5."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


@dataclass(frozen=True)
class Integer(_Type):
    """An integer from `minimum` to `maximum` (a tenant field: one message for type and range)."""

    minimum: int
    maximum: int
    description: str | None = None

    def check(self, value: Any) -> int | None:
        if value is None:
            return None
        number = _integral(value)
        if number is None or not self.minimum <= number <= self.maximum:
            raise fail("int_range", minimum=self.minimum, maximum=self.maximum)
        return number

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["integer", "null"], "minimum": self.minimum, "maximum": self.maximum}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class BoardId(_Type):
    """A board id in a body: an integer from 1 to 2^53-1; null (or 0) on a required field is "required"."""

    required: bool = False
    description: str | None = None

    def check(self, value: Any) -> int | None:
        if value is None:
            if self.required:
                raise fail("required")
            return None
        number = _integral(value)
        if number is None:
            raise fail("int_type")
        if not 0 < number <= MAX_BOARD_ID:
            raise fail("required" if number == 0 and self.required else "id_range", maximum=MAX_BOARD_ID)
        return number

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_BOARD_ID}
        if self.description:
            schema["description"] = self.description
        return _nullable(schema, not self.required)


@dataclass(frozen=True)
class BoardIdList(_Type):
    """A list of board ids; duplicates collapse (first kept), at most `max_items` distinct."""

    max_items: int
    description: str | None = None

    def check(self, value: Any) -> list[int] | None:
        if value is None:
            return None
        numbers = [_integral(item) for item in value] if isinstance(value, list) else [None]
        if any(number is None or not 0 < number <= MAX_BOARD_ID for number in numbers):
            raise fail("id_list")
        unique = list(dict.fromkeys(number for number in numbers if number is not None))
        if len(unique) > self.max_items:
            raise fail("id_list_length", max_items=self.max_items)
        return unique

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["array", "null"],
                                  "items": {"type": "integer", "minimum": 1, "maximum": MAX_BOARD_ID}}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class JsonText(_Type):
    """A string that holds JSON text (the Zoom meeting's details)."""

    max_length: int = 10_000
    description: str | None = None

    def check(self, value: Any) -> str | None:
        text = Text(self.max_length, single_line=False).check(value)
        if text is None:
            return None
        try:
            json.loads(text)
        except ValueError:
            raise fail("json") from None
        return text

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["string", "null"], "maxLength": self.max_length,
                                  "contentMediaType": "application/json"}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Email(_Type):
    """A bare addr-spec (no display name), lower-cased; parsed by the standard library, not a regex."""

    required: bool = False
    description: str | None = None

    def check(self, value: Any) -> str | None:
        from chalicelib.errors import ValidationError
        from chalicelib.validation import email_address

        if value is None:
            if self.required:
                raise fail("required")
            return None
        if not isinstance(value, str):
            raise fail("string_type")
        try:
            return email_address(value, "email")
        except ValidationError:
            raise fail("email") from None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "format": "email", "maxLength": 254}
        if self.description:
            schema["description"] = self.description
        return _nullable(schema, not self.required)


DOMAIN_PATTERN = r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"


@dataclass(frozen=True)
class Domain(_Type):
    """A DNS domain name (letters, digits, hyphens; at least two labels), lower-cased."""

    description: str | None = None

    def check(self, value: Any) -> str | None:
        from chalicelib.errors import ValidationError
        from chalicelib.validation import domain_name

        text = Text(253).check(value)
        if text is None:
            return None
        try:
            return domain_name(text, "domain")
        except ValidationError:
            raise fail("domain") from None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["string", "null"], "format": "hostname", "pattern": DOMAIN_PATTERN}
        if self.description:
            schema["description"] = self.description
        return schema


BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"


@dataclass(frozen=True)
class Base64File(_Type):
    """A file as standard base64 (padding required), decoded to bytes."""

    description: str | None = None

    def check(self, value: Any) -> bytes:
        if not isinstance(value, str) or not value:
            raise fail("file_required")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise fail("base64") from None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "contentEncoding": "base64",
                                  "pattern": BASE64_PATTERN}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class IdText(_Type):
    """An opaque id (a path segment or a body field): 1 to max_length characters."""

    max_length: int = 64

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not 0 < len(value) <= self.max_length:
            raise fail("id_text")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.max_length}


# ---------------------------------------------------------------- query and path parameters (always strings)


def _digits(raw: str, most: int) -> bool:
    # ASCII digits only: int() would also take "1_0", " 7 " and other scripts' digits.
    return raw.isascii() and raw.isdigit() and len(raw) <= most


@dataclass(frozen=True)
class PageLimit(_Type):
    """A page size in a query: 1 to `maximum` (absent: the field's default; present but empty: refused)."""

    maximum: int = 100
    default: int = 25

    def check(self, value: Any) -> int:
        if not isinstance(value, str) or not _digits(value, 4) or not 1 <= int(value) <= self.maximum:
            raise fail("page_size", maximum=self.maximum)
        return int(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": self.maximum, "default": self.default}


@dataclass(frozen=True)
class PositiveId(_Type):
    """A board id in a path or a query: ASCII digits, 1 to 2^53-1. `label` names it in errors (a path's
    `{thread_id}` is the record's `Id`)."""

    label: str | None = None
    description: str | None = None

    def check(self, value: Any) -> int:
        if not isinstance(value, str) or not _digits(value, len(str(MAX_BOARD_ID))) \
                or not 0 < int(value) <= MAX_BOARD_ID:
            raise fail("positive_int", label=self.label) if self.label else fail("positive_int")
        return int(value)

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_BOARD_ID}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class PathText(_Type):
    """A tenant path segment: any text is taken; an id that names nothing (too long included) is the service's 404."""

    max_length: int | None
    description: str | None = None
    values: tuple[str, ...] = ()  # what the service knows (documented; anything else is its 404)

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise fail("string_type")
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.values:
            schema["enum"] = list(self.values)
        elif self.max_length:
            schema.update({"minLength": 1, "maxLength": self.max_length})
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Cursor(_Type):
    """A page cursor: opaque, issued by the service (checked where it is opened, chalicelib/db.py)."""

    description: str = "the `next_cursor` of the previous page"

    def check(self, value: Any) -> str | None:
        if not isinstance(value, str):
            raise fail("string_type")
        return value or None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "description": self.description, "x-issued-by-server": True}


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def rule(field: str, message: str) -> PydanticCustomError:
    """A model's own rule failed (two fields that go together, say): `message` in the family's words, on `field`."""
    from pydantic_core import PydanticCustomError

    return PydanticCustomError("rule", "{message}", {"field": field, "message": message})
