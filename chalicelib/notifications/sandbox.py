"""The sandbox tenant templates render in: Jinja2's immutable sandbox with a budget.

Jinja2's sandbox keeps a template away from Python's internals, but not from the Lambda's memory and time: a
template that builds `"x"|center(20000000)` and prints its length, or nests 1000×1000×10 empty loops, passes an
output-size check. So each render gets a Budget: at most MAX_ITERATIONS loop iterations in all (every `for` of the
generated code counts), and no value larger than MAX_INTERMEDIATE characters or items — checked before the work
where its size can be known (a repetition, a width or count passed to a filter or method, a format width, a join,
`~` and `+`, a captured block) and on every value a filter, a call or an output produces. Over budget, the render
raises TemplateRefused: a 400 naming the field when the template is saved, the default wording at send time.
"""
from __future__ import annotations

import contextvars
import copy
import functools
import re
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment

from chalicelib.notifications.rendering import TemplateRefused

MAX_REPEAT = 10_000      # largest string or list a template may build with *
MAX_RANGE = 1_000        # largest range() (a tenant template is admin-written; loops stay small)
MAX_ITERATIONS = 20_000  # loop iterations in one render, all loops together
MAX_INTERMEDIATE = 100_000  # characters or items of any value a template builds on its way to the output


class Budget:
    """What one render of a tenant template may spend: loop iterations, and the size of any value it builds.

    Checked where the work happens, before it is done where the size can be known in advance (a repetition, a
    width, a join), so a template is refused before it can take the Lambda's memory or time."""

    def __init__(self) -> None:
        self.iterations = 0

    def iterate(self, items: Any) -> Any:
        for item in items:
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS:
                raise TemplateRefused(f"loops more than {MAX_ITERATIONS} times in all (the sandbox's budget)")
            yield item


BUDGET: contextvars.ContextVar[Budget] = contextvars.ContextVar("template_budget")
_WIDE_FORMAT = re.compile(r"\d{6,}")  # a width or precision of 100000 or more, in %-style or {}-style formats


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict | set | frozenset) else 0


def _too_big() -> TemplateRefused:
    return TemplateRefused(f"builds a value of more than {MAX_INTERMEDIATE} characters or items (the sandbox's budget)")


def _bounded(value: Any) -> Any:
    if _size(value) > MAX_INTERMEDIATE:
        raise _too_big()
    return value


def _check_total(parts: Any) -> None:
    if sum(map(_size, parts)) > MAX_INTERMEDIATE:
        raise _too_big()


def _check_arguments(arguments: Any) -> None:
    """No number large enough to be a costly width or count, no format with such a width."""
    for argument in arguments:
        if isinstance(argument, int) and not isinstance(argument, bool) and abs(argument) > MAX_INTERMEDIATE:
            raise TemplateRefused(f"passes {argument}, more than {MAX_INTERMEDIATE} (the sandbox's budget)")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise TemplateRefused("formats with a width of 100000 or more (the sandbox's budget)")


def _check_join(separator: Any, items: Any) -> None:
    if isinstance(items, list | tuple) and _size(separator) * len(items) + sum(map(_size, items)) > MAX_INTERMEDIATE:
        raise TemplateRefused(f"joins more than {MAX_INTERMEDIATE} characters (the sandbox's budget)")


def _budgeted_filter(name: str, function: Any) -> Any:
    """A filter whose extra arguments are checked first and whose result is bounded."""
    skip = 2 if getattr(function, "jinja_pass_arg", None) else 1  # the context, then the value being filtered

    @functools.wraps(function)
    def filtered(*args: Any, **kwargs: Any) -> Any:
        _check_arguments([*args[skip:], *kwargs.values()])
        if name == "format" and len(args) >= skip:
            _check_format(args[skip - 1])
        if name == "join" and len(args) >= skip:
            items = args[skip - 1]
            _check_join(args[skip] if len(args) > skip else kwargs.get("d", ""), items if isinstance(
                items, list | tuple) else None)
        return _bounded(function(*args, **kwargs))

    return filtered


class BudgetedCode(CodeGenerator):
    """The generated template code counts every loop iteration and checks every `~` before it joins."""

    def visit_For(self, node: Any, frame: Any) -> None:
        counted = copy.copy(node)
        counted.iter = nodes.Call(nodes.EnvironmentAttribute("iterate"), [node.iter], [], None, None,
                                  lineno=node.lineno)
        super().visit_For(counted, frame)

    def visit_Concat(self, node: Any, frame: Any) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"environment.joined({join}, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


class TenantSandbox(ImmutableSandboxedEnvironment):
    code_generator_class = BudgetedCode
    # `'x' * 10**9` would exhaust the Lambda's memory before any output limit is reached.
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if not all(isinstance(v, int | float) for v in (left, right)) or abs(right) > 64:
                raise TemplateRefused("exponent too large")
            return left ** right
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int) \
                        and len(sequence) * times > MAX_REPEAT:
                    raise TemplateRefused("repetition too large")
            return left * right
        if operator == "+":
            _check_total((left, right))
            return left + right
        _check_format(left)  # "%"
        _check_arguments(right if isinstance(right, tuple) else (right,))
        return _bounded(left % right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments([*args, *kwargs.values()])
        name = getattr(__obj, "__name__", "")
        # The sandbox hands str.format over wrapped (functools.update_wrapper): the string is on __wrapped__.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if name in ("format", "format_map"):
            _check_format(owner)
        elif name == "join" and args:
            _check_join(owner, list(args[0]) if isinstance(args[0], list | tuple) else None)
        return _bounded(super().call(__context, __obj, *args, **kwargs))

    def iterate(self, items: Any) -> Any:
        return BUDGET.get().iterate(items)

    def joined(self, join: Any, parts: tuple[Any, ...]) -> Any:
        """`a ~ b ~ c`, checked before it is joined."""
        _check_total(parts)
        return join(parts)

def bounded_concat(parts: Any) -> str:
    """A block ({% set %}…{% endset %}, a macro, a filter block) joined once its size is known."""
    parts = list(parts)
    _check_total(parts)
    return "".join(parts)


@functools.lru_cache(maxsize=2)
def environment(html: bool) -> TenantSandbox:
    """The sandbox tenant templates render in (HTML autoescaped for the html part)."""
    sandbox = TenantSandbox(autoescape=html, undefined=StrictUndefined, finalize=_bounded)
    sandbox.concat = bounded_concat  # type: ignore[method-assign]
    sandbox.filters = {name: _budgeted_filter(name, function) for name, function in sandbox.filters.items()}
    sandbox.globals["range"] = _bounded_range
    sandbox.globals.pop("lipsum", None)
    return sandbox


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateRefused("range too large")
    return numbers


