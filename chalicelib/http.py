"""Tenant API plumbing: authenticate, parse and bound the JSON body, turn ApiError into the error shape."""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.auth import Principal, authenticate
from chalicelib.config import settings
from chalicelib.errors import ApiError, as_unavailable

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


def json_body(request: Any, required: bool = True) -> dict[str, Any]:
    """The tenant API's request body as a JSON object (see read_json_object)."""
    return read_json_object(request.raw_body, (request.headers or {}).get("content-type"), required)


def tenant_route(blueprint: Blueprint, path: str, methods: tuple[str, ...] = ("GET",),
                 status: int = 200) -> Callable:
    """Declare a tenant route: the view gets the verified Principal, the request and the path parameters."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = blueprint.current_request
            try:
                principal: Principal = authenticate(request.headers)
                result = view(principal, request, **params)
            except ApiError as error:
                return error_response(error)
            except Exception as error:
                busy = as_unavailable(error)
                if busy is None:
                    raise
                logger.warning("throttled: %s", error)
                response = error_response(busy)
                response.headers["Retry-After"] = "1"
                return response
            if isinstance(result, Response):
                return result
            return Response(body=result, status_code=status, headers=dict(JSON_HEADERS))

        blueprint.route(path, methods=list(methods))(handler)
        return view

    return register


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
