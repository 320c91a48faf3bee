"""The HTTP layer of both API families: the one route decorator, the one JSON reader, the one error mapping."""
from __future__ import annotations

import functools
import importlib
import inspect
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Blueprint, Response

from chalicelib.auth import Principal, authenticate
from chalicelib.config import settings
from chalicelib.errors import ApiError, Forbidden, ValidationError, as_unavailable

logger = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}


def error_response(error: ApiError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers=dict(JSON_HEADERS))


class BodyError(ApiError):
    """A request body that is not one JSON object as both API families read it. `problem` is the message without
    the field's name: the board's envelope names the field in PropertyName, the tenant shape in the message."""

    def __init__(self, problem: str, field: str = "body", status: int = 400, whole: bool = True) -> None:
        # `whole`: about the request body itself, not a field of it (a message's own field is called body too).
        super().__init__(f"{'request body' if whole and field == 'body' else field} {problem}", field=field)
        self.problem = problem
        self.status = status
        self.code = {413: "payload_too_large", 415: "unsupported_media_type"}.get(status, "validation_error")


MAX_DEPTH = 64  # arrays and objects inside each other; no request of either API goes deeper than 4


def _duplicate_keys_refused(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise BodyError(f"appears twice in one object ({_printable(duplicate)!r}): send each key once",
                        field=_printable(duplicate)[:100] or "body", whole=False)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _printable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_tree(body: Any) -> None:
    """Every string (keys too) is real Unicode and nothing nests deeper than MAX_DEPTH: one iterative walk, so a
    hostile body cannot make the check itself recurse."""
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyError(f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            if not _utf8(value):
                raise BodyError("must be valid Unicode text (no lone surrogates)", field=path or "body",
                                whole=not path)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{_printable(key)}" if path else _printable(key)
                if not _utf8(key):
                    raise BodyError("must be valid Unicode text (no lone surrogates)", field=name[:100], whole=False)
                stack.append((item, name, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def _check_content_type(content_type: str | None) -> None:
    """RFC 8259: JSON between systems is UTF-8, and its media type is application/json (no charset needed)."""
    if not content_type:
        raise BodyError("is missing: a request body must be sent as application/json", field="Content-Type",
                        status=415)
    media, _, parameters = content_type.partition(";")
    if media.strip().lower() != "application/json":
        raise BodyError(f"must be application/json, not {_printable(media.strip())[:100]!r}", field="Content-Type",
                        status=415)
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise BodyError("charset must be utf-8: JSON is read as UTF-8 only (RFC 8259)", field="Content-Type",
                            status=415)


def read_json_object(raw: bytes | None, content_type: str | None, required: bool = True) -> dict[str, Any]:
    """The one JSON reader of both API families: the body as one JSON object, or a BodyError saying what is wrong.

    Refused: a body over MAX_REQUEST_BYTES (413); a body without Content-Type application/json, or with a
    charset other than UTF-8 (415); bytes that are not UTF-8 (UTF-16 is not guessed), malformed JSON, NaN or
    Infinity, a key given twice in one object, lone surrogates, nesting deeper than MAX_DEPTH, or anything but
    an object (400). An empty body is {} where the operation's body is optional. docs/security.md says why."""
    raw = raw or b""
    limit = settings().max_request_bytes
    if len(raw) > limit:
        raise BodyError(f"must be at most {limit} bytes", status=413)
    if not raw.strip():
        if required:
            raise BodyError("is required: send a JSON object")
        return {}
    _check_content_type(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("is not UTF-8: JSON is read as UTF-8 only (RFC 8259)") from None
    try:
        body = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_duplicate_keys_refused)
    except RecursionError:
        raise BodyError(f"is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise BodyError(f"is not valid JSON ({error})") from None
    if not isinstance(body, dict):
        raise BodyError("must be a JSON object")
    _check_tree(body)
    return body


@dataclass(frozen=True)
class Operation:
    """One declared operation: what `chalicelib/contract/build.py` writes into the OpenAPI document."""

    path: str
    method: str
    name: str
    tag: str
    summary: str
    description: str
    models: str
    body: str | None
    body_required: bool
    query: str | None
    path_model: str | None
    response: str | None
    status: int
    roles: tuple[str, ...]
    errors: tuple[int, ...]

    @property
    def board(self) -> bool:
        return self.path.startswith(BOARD_PREFIX)


BOARD_PREFIX = "/api/community/"
OPERATIONS: list[Operation] = []


def model(module: str, name: str) -> Any:
    """A model class by name, its module imported on first use (pydantic loads with the first request needing it)."""
    return getattr(importlib.import_module(module), name)


class Roles:
    """Who may call a route: `admin`, or one of `roles`; anyone else gets 403 with `refusal` before anything of the
    request is read, so a caller without the role learns nothing from validation errors."""

    def __init__(self, *roles: str, refusal: str | None = None) -> None:
        self.roles = roles
        self.refusal = refusal

    def check(self, principal: Principal, board: bool) -> None:
        if principal.is_admin or any(principal.has_role(role) for role in self.roles if role != "admin"):
            return
        if board:
            from chalicelib.community.envelope import forbidden

            raise forbidden("requires a full unrestricted administrator or the " + " or ".join(self.roles) + " role",
                            "Authorization")
        raise Forbidden(self.refusal or f"this needs the {' or '.join(self.roles)} role")


class Api:
    """The routes of one feature: one decorator that authenticates, checks the role, reads the body with the one
    JSON reader, validates path, query and body with the feature's models, calls the view, shapes the answer with
    the response model, and turns every failure into the family's error shape (snake_case `{"error": {...}}` on
    `/api/tenant`, the seed's envelope on `/api/community`).

    Models are named, not imported: `models` is the feature's schemas module, loaded by the first request that
    needs it, so importing the app loads no pydantic (cold start, bench/coldstart.py). `params`, a module of
    `contract.params.Params` named as the route's query model, is read without pydantic (its model is built from
    it); the answer is checked against its response model where CHECK_RESPONSES is on (stage local, so the tests)
    and sent as the view made it, so a first list page loads no pydantic at all."""

    def __init__(self, blueprint: Blueprint, tag: str, models: str, params: str | None = None) -> None:
        self.blueprint = blueprint
        self.tag = tag
        self.models = models
        self.params = params

    def route(self, path: str, method: str = "GET", *, body: str | None = None, body_required: bool = True,
              query: str | None = None, path_model: str | None = None, response: str | None = None,
              status: int = 200, roles: Roles | None = None, errors: tuple[int, ...] = (),
              name: str | None = None, summary: str | None = None) -> Callable:
        """Declare one operation. Its summary is the view's docstring's first paragraph (or `summary`), its
        description the rest; `errors` are the statuses the service may answer besides those the declaration
        implies (400 for input, 401, 403 with roles, 413 with a body, 415, 503)."""

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            doc = inspect.cleandoc(view.__doc__ or "")
            first, _, description = doc.partition("\n\n")
            operation = Operation(path, method, name or view.__name__, self.tag, " ".join((summary or first).split()),
                                  " ".join(description.split()), self.models, body, body_required, query, path_model,
                                  response, status, roles.roles if roles else (), errors)
            OPERATIONS.append(operation)
            @functools.wraps(view)
            def handler(**params: str) -> Response:
                return self._handle(view, operation, roles, **params)

            self.blueprint.route(path, methods=[method], name=f"{operation.name}_{method.lower()}")(handler)
            return view

        return register

    def _handle(self, view: Callable[..., Any], operation: Operation, roles: Roles | None, **params: str) -> Response:
        request = self.blueprint.current_request
        try:
            principal: Principal = authenticate(request.headers)
            if roles is not None:
                roles.check(principal, operation.board)
            arguments = self._arguments(operation, request, params)
            result = view(principal, request, **arguments)
        except Exception as error:  # noqa: BLE001 - every failure is answered in the family's shape, or re-raised
            return failure(error, operation.board)
        if isinstance(result, Response):
            return result
        if operation.response is not None and settings().check_responses:
            check_answer(model(self.models, operation.response), result, operation)
        return Response(body=result, status_code=operation.status, headers=dict(JSON_HEADERS))

    def _arguments(self, operation: Operation, request: Any, params: dict[str, str]) -> dict[str, Any]:
        """Path parameters (validated when the route names a model for them), `query` and `body` as models."""
        arguments: dict[str, Any] = dict(params)
        if operation.path_model is not None:
            arguments.update(model(self.models, operation.path_model).model_validate(params).model_dump())
        if operation.query is not None:
            arguments["query"] = self._query(operation.query, dict(request.query_params or {}))
        if operation.body is not None:
            raw = read_json_object(request.raw_body, (request.headers or {}).get("content-type"),
                                   operation.body_required)
            arguments["body"] = model(self.models, operation.body).model_validate(raw)
        return arguments


    def _query(self, name: str, raw: dict[str, str]) -> Any:
        """The query: read by its `Params` when the feature declares one (no pydantic), else by its model. When a
        check refuses a parameter, the model validates the same query again, so a refusal is the model's own
        ValidationError, worded as every other (`failure`)."""
        params = getattr(importlib.import_module(self.params), name, None) if self.params else None
        if params is not None:
            try:
                return params.read(raw)
            except Exception:  # noqa: BLE001 - the model answers instead, with its own error
                pass
        return model(self.models, name).model_validate(raw)


class AnswerMismatch(Exception):
    """A view answered something its response model would not send as is (a field missing, extra or of another
    type): an error in our code, which CHECK_RESPONSES turns into a 500 where the tests run."""


def check_answer(answer_model: Any, result: Any, operation: Operation) -> None:
    """The view's answer is exactly what its response model would send: valid, and unchanged by the model's
    serialisation (same JSON, keys aside). Where this holds in the tests, sending the answer as the view made it
    (CHECK_RESPONSES off, deployed stages) sends what the document says, without loading pydantic."""
    shaped = answer_model.model_validate(result).model_dump(mode="json")
    if json.dumps(shaped, sort_keys=True) != json.dumps(result, sort_keys=True):
        raise AnswerMismatch(f"{operation.method} {operation.path}: the answer differs from {operation.response}: "
                             f"{json.dumps(result, sort_keys=True)[:300]} is sent as "
                             f"{json.dumps(shaped, sort_keys=True)[:300]}")


def failure(error: Exception, board: bool) -> Response:
    """A failed request in its family's shape: our errors, the models' validation errors, AWS throttling (503 with
    Retry-After); anything else is re-raised (Chalice answers 500, reshaped by `framework_errors`)."""
    headers: dict[str, str | list[str]] = dict(JSON_HEADERS)
    models = sys.modules.get("pydantic_core")  # loaded when a model ran: only then can one have failed
    if models is not None and isinstance(error, models.ValidationError):
        error = _invalid(error, board)
    elif not isinstance(error, ApiError):
        busy = as_unavailable(error)
        if busy is None:
            raise error
        logger.warning("throttled: %s", error)
        error, headers["Retry-After"] = busy, "1"
    if board:
        from chalicelib.community.envelope import enveloped

        error = enveloped(error)
    return Response(body=error.body(), status_code=error.status, headers=headers)


def _invalid(error: Any, board: bool) -> ApiError:
    from chalicelib.contract.problems import board_errors, problems, tenant_error

    found = problems(error)
    if board:
        from chalicelib.community.envelope import FieldError, invalid

        return invalid([FieldError(name, message, value) for name, message, value in board_errors(found)])
    message, field = tenant_error(found)
    return ValidationError(message, field=field)


# Chalice answers a few requests itself, as {"Code", "Message"}: these are their codes in our error shape.
FRAMEWORK_CODES = {"UnsupportedMediaType": ("unsupported_media_type", "Content-Type"),
                   "MethodNotAllowedError": ("method_not_allowed", None),
                   "InternalServerError": ("internal_error", None)}


def framework_errors(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: Chalice's own answers (415 for a non-JSON Content-Type, 405, an unhandled 500) in the API
    family's one error shape, so a client of /api/tenant or /api/community meets only its documented errors."""
    response = get_response(request)
    body = response.body
    path = getattr(request, "path", "") or ""
    if response.status_code < 400 or not path.startswith("/api/") or not isinstance(body, dict) \
            or "Code" not in body or "Message" not in body:
        return response
    code, field = FRAMEWORK_CODES.get(body["Code"], ("error", None))
    message = "an internal error occurred" if response.status_code >= 500 else str(body["Message"])
    if path.startswith("/api/community/"):
        from chalicelib.community.envelope import CommunityError, FieldError

        reshaped = CommunityError(response.status_code, [FieldError(field or "", message)]).body()
    else:
        reshaped = ApiError(message, field).body()
        reshaped["error"]["code"] = code
    headers = {**(response.headers or {}), **JSON_HEADERS}
    return Response(body=reshaped, status_code=response.status_code, headers=headers)
