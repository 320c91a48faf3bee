"""The Jinja2 environment of the repository's email templates, precompiled to Python modules when packaged.

Jinja2 lexes, parses and compiles a template to Python the first time it renders it: 5 ms of CPU for a digest's
two templates, paid by every Lambda container's first email (0.4 ms from compiled modules; docs/deployment.md,
"Cold start"). `make deploy` (scripts/deploy.py, `add_compiled_templates`) compiles each template folder of the
function, `templates/`, once, into the modules Jinja2 itself would generate, in a folder beside it
(`templates.compiled/`), which then get their bytecode like every module; a packaged app loads them with Jinja2's
`ModuleLoader` (https://jinja.palletsprojects.com/en/3.1.x/api/#jinja2.ModuleLoader). Where there is no such folder
(the source tree: local runs and tests) the templates are read from their files. Both render the same bytes
(tests/notifications/test_precompiled_templates.py). Tenant templates are not these: they render in the sandbox
(notifications/sandbox.py).
"""
from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

COMPILED_SUFFIX = ".compiled"


def compiled_folder(templates: pathlib.Path) -> pathlib.Path:
    """Where the packaged app finds the compiled modules of a template folder."""
    return templates.with_name(templates.name + COMPILED_SUFFIX)


def environment(templates: pathlib.Path) -> jinja2.Environment:
    """The environment that renders a folder's templates: from its compiled modules when packaged, else its files."""
    import jinja2  # imported on first render: requests that never email do not load it

    compiled = compiled_folder(templates)
    loader: jinja2.BaseLoader = (jinja2.ModuleLoader(str(compiled)) if compiled.is_dir()
                                 else jinja2.FileSystemLoader(str(templates)))
    return jinja2.Environment(loader=loader, **_options())


def compile_folder(templates: pathlib.Path) -> list[pathlib.Path]:
    """Compile every template of the folder, with the options it renders with, into its compiled folder; returns
    the modules written. A template that does not compile fails the packaging."""
    import jinja2

    target = compiled_folder(templates)
    target.mkdir(exist_ok=True)
    jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), **_options()).compile_templates(
        str(target), zip=None, ignore_errors=False)
    return sorted(target.glob("*.py"))


def _options() -> dict[str, Any]:
    """The options of both loaders. Autoescaping is decided when a template is compiled: the compiled modules are
    only right for the options they were compiled with, so both paths take them from here."""
    import jinja2

    return {"autoescape": jinja2.select_autoescape(["html"]), "keep_trailing_newline": True}
