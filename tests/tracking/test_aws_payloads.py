"""The AWS payload reader (chalicelib/contract/aws_events.py) against pydantic's own core as the reference.

The reader checks SNS envelopes, SES events and SES receipt notifications without pydantic (a cold SES event would
pay for its import). These tests build, for the same dataclasses, the core schema pydantic would validate them with
(lax mode, fields read and errors located by AWS's names, odd list entries dropped) and require, on every
fixture and on every single-value mutation of them, the same outcome: equal values, or the same first error.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic_core import SchemaValidator, ValidationError, core_schema

from chalicelib.contract import aws_events
from chalicelib.contract.aws_events import SKIP_ODD, Payload, PayloadError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ses"
ODD_VALUES: list[Any] = [None, 0, 1.5, True, "", "x", [], ["a", 1], [{"name": "n", "value": "v"}, 2], {},
                         {"a": "b"}, {"a": ["b"]}, {"a": [1]}]


def _reference_schema(kind: Any, definitions: dict[str, Any]) -> Any:
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if kind is str:
        return core_schema.str_schema()
    if origin is Annotated:
        inner, marks = arguments[0], arguments[1:]
        if SKIP_ODD in marks:
            entry = typing.get_args(inner)[0]
            keep = dict if dataclasses.is_dataclass(entry) else entry
            return core_schema.no_info_before_validator_function(
                lambda value: [item for item in value if isinstance(item, keep)] if isinstance(value, list) else [],
                _reference_schema(inner, definitions))
        return _reference_schema(inner, definitions)
    if origin is types.UnionType and type(None) in arguments:
        [other] = [argument for argument in arguments if argument is not type(None)]
        return core_schema.nullable_schema(_reference_schema(other, definitions))
    if origin is list:
        return core_schema.list_schema(_reference_schema(arguments[0], definitions))
    if origin is dict:
        return core_schema.dict_schema(_reference_schema(arguments[0], definitions),
                                       _reference_schema(arguments[1], definitions))
    assert isinstance(kind, type) and issubclass(kind, Payload), kind
    name = kind.__qualname__
    if name not in definitions:
        fields = []
        for each in dataclasses.fields(kind):  # type: ignore[arg-type]
            schema = _reference_schema(each.type, definitions)
            if each.metadata.get("min_length") is not None:
                schema = core_schema.str_schema(min_length=each.metadata["min_length"])
            if each.default is not dataclasses.MISSING:
                schema = core_schema.with_default_schema(schema, default=each.default)
            elif each.default_factory is not dataclasses.MISSING:
                schema = core_schema.with_default_schema(schema, default_factory=each.default_factory)
            fields.append(core_schema.dataclass_field(each.name, schema, validation_alias=each.metadata.get("alias")))
        definitions[name] = core_schema.dataclass_schema(
            kind, core_schema.dataclass_args_schema(name, fields, extra_behavior="ignore"),
            [each["name"] for each in fields], ref=name)
    return core_schema.definition_reference_schema(name)


@functools.cache
def _reference(kind: type[Payload]) -> SchemaValidator:
    definitions: dict[str, Any] = {}
    schema = core_schema.definitions_schema(_reference_schema(kind, definitions), list(definitions.values()))
    return SchemaValidator(schema, core_schema.CoreConfig(validate_by_alias=True, validate_by_name=True,
                                                          loc_by_alias=True))


def _outcome(read: typing.Callable[[Any], Any], data: Any) -> tuple[str, Any]:
    try:
        return "value", _plain(read(data))
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        return "refused", (tuple(first["loc"]), first["msg"])
    except PayloadError as error:
        return "refused", (error.loc, error.msg)


def _plain(value: Any) -> Any:
    """A payload as nested dicts, each tagged with its class."""
    if dataclasses.is_dataclass(value):
        return {"class": type(value).__name__,
                **{each.name: _plain(getattr(value, each.name)) for each in dataclasses.fields(value)}}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _payloads(data: Any) -> Iterator[tuple[type[Payload], Any]]:
    """Every payload inside a fixture (Lambda and SNS wrappers included), with the class that reads it."""
    if isinstance(data, dict):
        if "Type" in data and "Message" in data:
            yield aws_events.SnsEnvelope, data
            try:
                yield from _payloads(json.loads(data["Message"]))
            except ValueError:
                pass
        elif "mail" in data:
            yield (aws_events.ReceiptNotification if "receipt" in data else aws_events.SesNotification), data
        for key, value in data.items():
            if key != "mail" and isinstance(value, dict | list):
                yield from _payloads(value)
    elif isinstance(data, list):
        for item in data:
            yield from _payloads(item)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _mutations(data: dict) -> Iterator[Any]:
    """The payload with one value replaced by each odd value, or removed."""
    for path in _paths(data):
        for odd in [*ODD_VALUES, "remove"]:
            changed = copy.deepcopy(data)
            parent = functools.reduce(lambda node, key: node[key], path[:-1], changed)
            if odd == "remove":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(odd)
            yield changed


FIXTURE_PAYLOADS = [(f"{path.relative_to(FIXTURES)}:{kind.__name__}:{n}", kind, payload)
                    for path in sorted(FIXTURES.rglob("*.json"))
                    for n, (kind, payload) in enumerate(_payloads(json.loads(path.read_text())))]


def test_every_fixture_holds_a_payload_of_each_kind():
    assert {kind for _, kind, _ in FIXTURE_PAYLOADS} == {
        aws_events.SnsEnvelope, aws_events.SesNotification, aws_events.ReceiptNotification}
    assert len(FIXTURE_PAYLOADS) >= 30


@pytest.mark.parametrize(("name", "kind", "payload"), FIXTURE_PAYLOADS, ids=[name for name, _, _ in FIXTURE_PAYLOADS])
def test_the_reader_gives_what_pydantic_gives_on_a_fixture_and_each_mutation_of_it(name, kind, payload):
    outcomes = {"value": 0, "refused": 0}
    for data in [payload, *_mutations(payload)]:
        ours = _outcome(kind.model_validate, data)
        assert ours == _outcome(_reference(kind).validate_python, data), json.dumps(data)[:2000]
        outcomes[ours[0]] += 1
    assert outcomes["refused"] > 0 and outcomes["value"] > 0  # the mutations exercise both sides


@pytest.mark.parametrize("data", [None, [], "text", 1, {}, {"mail": []}, {"mail": {"messageId": ""}},
                                  {"mail": {"messageId": "x", "tags": {"t": "not a list"}}},
                                  {"mail": {"messageId": "x", "tags": {"t": ["a", 2]}}},
                                  {"mail": {"message_id": "our name is not AWS's", "destination": ["a"]}},
                                  {"mail": {"messageId": "x", "message_id": 7, "destination": "not a list"}}])
def test_whole_payloads_of_the_wrong_shape_are_refused_as_pydantic_refuses_them(data):
    kind = aws_events.SesNotification
    assert _outcome(kind.model_validate, data) == _outcome(_reference(kind).validate_python, data)
