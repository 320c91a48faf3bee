"""Query parameters declared once, read without pydantic on the way in, and a pydantic model made of the same fields.

A query's parameters are each a field type's plain check (`types.py`) and a default; pydantic, for such a model, does
nothing but call those checks. So a `Params` class is read directly (`read`: no pydantic module is loaded, which is a
quarter of a cold first list page, bench/coldstart.py), and `model` builds the pydantic model of the same fields that
the document is written from (`contract/build.py`) and that words a refusal (`chalicelib/http.py` lets the model
validate again whenever a check refuses, so a 400 is the model's own answer).
"""
from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from chalicelib.contract.types import _Type


class Params:
    """Query parameters: each declared as a model field would be, `name: Annotated[type, FieldType(...)] = default`,
    with exactly one field type and a default (a query parameter may always be left out). `DEPRECATED` names the
    parameters the document marks deprecated."""

    DEPRECATED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @functools.cache
    def fields(cls) -> dict[str, tuple[Any, _Type, Any]]:
        """name → (type, field type, default), in declaration order."""
        fields: dict[str, tuple[Any, _Type, Any]] = {}
        for name, hint in typing.get_type_hints(cls, include_extras=True).items():
            if typing.get_origin(hint) is typing.ClassVar:
                continue
            checks = [item for item in getattr(hint, "__metadata__", ()) if isinstance(item, _Type)]
            if len(checks) != 1 or name not in vars(cls):
                raise TypeError(f"{cls.__name__}.{name}: a parameter is Annotated[type, one field type] = default")
            fields[name] = (hint.__origin__, checks[0], vars(cls)[name])
        return fields

    @classmethod
    def read(cls, raw: Mapping[str, str]) -> Any:
        """The parameters as the model reads them when it accepts them: a parameter sent goes through its field
        type's check, one left out is its default, others are ignored. Raises what a check raises."""
        params = cls.__new__(cls)
        for name, (_, check, default) in cls.fields().items():
            setattr(params, name, check.check(raw[name]) if name in raw else default)
        return params

    @classmethod
    def model(cls, base: type, name: str, module: str) -> Any:
        """The pydantic model of the same fields, on `base` (contract/models.py `Query`)."""
        from pydantic import Field, create_model

        fields: dict[str, Any] = {}
        for field, (kind, check, default) in cls.fields().items():
            value = Field(default=default, json_schema_extra={"deprecated": True}) if field in cls.DEPRECATED \
                else default
            fields[field] = (typing.Annotated[kind, check], value)
        return create_model(name, __base__=base, __module__=module, **fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in type(self).fields())})"
