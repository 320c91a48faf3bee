"""Validation errors in each API family's words: one list of problems, two phrasebooks.

The models raise pydantic errors whose type is a rule's code (chalicelib/contract/types.py). The tenant API answers
the first problem as `{"error": {"code", "message", "field"}}` with the field named in the message
("subject must be at most 998 characters"); the board answers every problem in the seed's envelope, the field in
`PropertyName` and the message without it ("must be at most 255 characters"), unknown fields first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError as PydanticValidationError

MAX_UNKNOWN_FIELDS = 10  # the board lists a few unknown names, not every key of a hostile body
MAX_NAME = 100


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    context: dict[str, Any]
    value: Any
    where: str = ""  # the object the problem is in (`participants[0]`), for a model's own rule


def _name(parts: tuple[Any, ...]) -> str:
    name = ""
    for part in parts:
        if isinstance(part, str) and part.startswith("~"):
            continue  # a branch of a union (`~object`), not a field
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _field(location: tuple[Any, ...], context: dict[str, Any]) -> str:
    if context.get("label"):
        return str(context["label"])
    return _name((*location, *([context["field"]] if context.get("field") else [])))


def problems(error: PydanticValidationError) -> list[Problem]:
    """The errors of one validation, unknown fields first (a typo is the first thing worth telling), then in the
    order of the model's fields."""
    found = []
    for entry in error.errors(include_url=False):
        context = dict(entry.get("ctx") or {})
        code = entry["type"]
        # A missing field, or a model's own rule (its input is the whole object), echoes nothing.
        value = None if code in ("missing", "rule") else entry.get("input")
        found.append(Problem(_field(tuple(entry["loc"]), context), code, context, value, _name(tuple(entry["loc"]))))
    return sorted(found, key=lambda problem: problem.code != "extra_forbidden")


TENANT = {
    "missing": "{field} is required", "required": "{field} is required",
    "string_type": "{field} must be a string", "blank": "{field} must not be empty",
    "unicode": "{field} must be valid Unicode text (no lone surrogates)",
    "too_long": "{field} must be at most {max_length} characters",
    "too_short": "{field} must not be empty",
    "enum": "{field} must be one of: {values}", "bool_type": "{field} must be true or false",
    "int_range": "{field} must be an integer from {minimum} to {maximum}",
    "email": "{field} is not a valid email address", "domain": "{field} must be a domain name like example.com",
    "extra_forbidden": "unknown field '{field}'", "model_type": "{field} must be an object",
    "model_attributes_type": "{field} must be an object", "dict_type": "{field} must be an object",
    "list_type": "{field} must be a list", "page_size": "{field} must be an integer between 1 and {maximum}",
    "file_required": "{field} is required (the file, base64-encoded)", "base64": "{field} is not valid base64",
    "time_zone": "{field} must be an IANA time zone such as Europe/Paris",
    "phone": "{field} must be in E.164 form, like +14155550123",
    "id_text": "{field} is not a valid id",
}

BOARD = {
    "missing": "is a required field", "required": "is a required field", "blank": "is a required field",
    "string_type": "must be a string", "unicode": "must be valid Unicode text (no lone surrogates)",
    "too_long": "must be at most {max_length} characters", "enum": "must be one of: {values}",
    "bool_type": "must be true or false", "int_type": "must be an integer",
    "id_range": "must be between 1 and {maximum}",
    "id_list": "must be a list of positive integer ids", "id_list_length": "must list at most {max_items} ids",
    "json": "must be valid JSON", "extra_forbidden": "is not a field of this resource",
    "page_size": "must be an integer between 1 and {maximum}", "positive_int": "must be a positive integer",
    "model_type": "must be an object", "model_attributes_type": "must be an object", "dict_type": "must be an object",
}


def _words(book: dict[str, str], problem: Problem) -> str:
    if problem.code == "rule":
        return str(problem.context["message"]).replace("{where}", problem.where)
    if problem.code == "control":
        single = problem.context.get("single_line")
        if book is TENANT:
            return (f"{problem.field} must be a single line without control characters (CR/LF)" if single
                    else f"{problem.field} must not contain control characters")
        return "must not contain control characters" + (" or line breaks" if single else "")
    if problem.code == "too_long" and "field_type" in problem.context:  # pydantic's own, of a list
        return f"{problem.field} must have at most {problem.context['max_length']} items"
    template = book.get(problem.code, "{field} is not valid" if book is TENANT else "is not valid")
    return template.format(field=problem.field, **problem.context)


def tenant_error(found: list[Problem]) -> tuple[str, str]:
    """(message, field) of the tenant API's one error: the first problem."""
    first = found[0]
    return _words(TENANT, first), first.field


def board_errors(found: list[Problem]) -> list[tuple[str, str, Any]]:
    """(PropertyName, Message, AttemptedValue) of every problem, as the board's envelope lists them."""
    from chalicelib.community.envelope import echo

    unknown = [problem for problem in found if problem.code == "extra_forbidden"]
    listed: list[tuple[str, str, Any]] = []
    for problem in unknown[:MAX_UNKNOWN_FIELDS]:
        name = problem.field if len(problem.field) <= MAX_NAME else problem.field[:MAX_NAME] + "…"
        listed.append((name, _words(BOARD, problem), echo(problem.value)))
    if len(unknown) > MAX_UNKNOWN_FIELDS:
        listed.append(("Body", f"has {len(unknown)} fields that are not fields of this resource", None))
    for problem in found:
        if problem.code != "extra_forbidden":
            listed.append((problem.field, _words(BOARD, problem), echo(problem.value)))
    return listed
