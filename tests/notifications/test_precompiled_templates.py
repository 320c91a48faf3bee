"""The email templates as packaged (compiled to Python modules by scripts/deploy.py, chalicelib/templating.py)
render the same bytes as the template files the tests and local runs read."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from chalicelib import templating
from chalicelib.mail import compose
from chalicelib.notifications import rendering
from scripts import deploy

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOSTILE = {"title": "<script>alert('x')</script> & “quotes”", "excerpt": "a < b\n\nsecond <b>line</b>",
           "recipient_name": "Ann & <Bob>", "link": "https://example.com/x?a=1&b=<2>"}

# Renders every default template of both folders, and one discussion email whole, with the environments the app
# uses (rendering._files, compose._environment); prints the outputs and which loaders read them.
RENDER_ALL = r"""
import json, pathlib, random, sys
from datetime import UTC, datetime
from markupsafe import Markup
from chalicelib.mail import compose
from chalicelib.notifications import rendering

hostile = json.loads(sys.argv[1])
out = {"loaders": [type(rendering._files().loader).__name__, type(compose._environment().loader).__name__]}
for name in sorted(path.name for path in rendering.TEMPLATES.iterdir()):
    kind = "digest" if name.startswith("digest") else "notification"
    for n, sample in enumerate((*rendering.samples_for(kind), {**rendering.samples_for(kind)[0], **hostile})):
        out[f"notifications/{name}/{n}"] = rendering._files().get_template(name).render(sample)
link = compose.DownloadLink("big & <bad>.pdf", 10, "https://example.com/d?a=1&b=2", "Mon, 7 Dec 2026 at 10:00")
for n, (signature, history, pixel, links) in enumerate([
        (None, [], "", []),
        ("Ann <ann@example.com>\nSales & More", [compose.HistoryItem("Bob <b>", "Mon, 30 Nov 2026 at 23:56",
                                                                     "Earlier https://example.com/e?x=<1>\nline")],
         "https://example.com/t/o/p.gif", [link])]):
    for name in ("discussion_message.txt", "discussion_message.html"):
        text, html = compose.rewrite_links("Hello <you> & https://example.com/a?b=1&c=2\nbye", None, [])
        out[f"mail/{name}/{n}"] = compose._environment().get_template(name).render(
            body_text=text, body_html=html, signature=signature, history=[
                {"author": h.author, "written": h.written, "body_text": h.body, "body_html": Markup(h.body)}
                for h in history], pixel_url=pixel, download_links=links)
    email = compose.OutboundEmail(
        sender=compose.Person("hub@example.com", "Hub"), recipient=compose.Person("ann@example.com", "Ann"), to=[],
        cc=[], reply_to="r+k@reply.example.com", subject="Subject & <more>", message_id="<m1@example.com>",
        in_reply_to=None, references=[], body="Hello https://example.com/a?b=1 <you>", signature=signature,
        history=history, pixel_url=pixel, download_links=links, date=datetime(2026, 12, 3, tzinfo=UTC))
    random.seed(n)  # the MIME boundary
    out[f"mail/whole email/{n}"] = compose.build(email, lambda i: f"https://example.com/t/c/{i}").decode()
print(json.dumps(out))
"""


def _render_all(env: dict[str, str]) -> dict[str, str]:
    run = subprocess.run([sys.executable, "-c", RENDER_ALL, json.dumps(HOSTILE)], cwd=env["PYTHONPATH"], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The function zip's code as `make deploy` ships it (templates compiled, bytecode added), unzipped."""
    folder = tmp_path_factory.mktemp("package")
    archive = folder / "deployment.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:  # what `chalice package` zips: our code
        target.write(ROOT / "app.py", "app.py")
        for path in sorted((ROOT / "chalicelib").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                target.write(path, path.relative_to(ROOT).as_posix())
    deploy.add_compiled_templates(archive)
    deploy.add_bytecode(archive, "/var/task")
    code = folder / "code"
    with zipfile.ZipFile(archive) as source:
        source.extractall(code)
    return code


def test_the_package_carries_every_template_compiled_with_its_bytecode(packaged: pathlib.Path):
    for templates in (rendering.TEMPLATES, compose.TEMPLATES):
        shipped = packaged / templates.relative_to(ROOT)
        modules = sorted(templating.compiled_folder(shipped).glob("*.py"))
        assert len(modules) == len(list(templates.iterdir()))
        assert all((module.parent / "__pycache__" / f"{module.stem}.cpython-311.pyc").is_file() for module in modules)


def test_the_packaged_app_renders_the_same_bytes_as_the_template_files(packaged: pathlib.Path):
    base = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    base.update({"PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1"})
    assert not templating.compiled_folder(rendering.TEMPLATES).exists()  # the source tree reads its files

    from_files = _render_all({**base, "PYTHONPATH": str(ROOT)})
    shipped = _render_all({**base, "PYTHONPATH": str(packaged)})

    assert from_files.pop("loaders") == ["FileSystemLoader", "FileSystemLoader"]
    assert shipped.pop("loaders") == ["ModuleLoader", "ModuleLoader"]
    assert len(from_files) == 3 * len(list(rendering.TEMPLATES.iterdir())) + 6
    assert shipped == from_files
    assert "&lt;script&gt;" in from_files["notifications/notification.html/2"]  # HTML escaped, text not
    assert "<script>" in from_files["notifications/notification.txt/2"]


def test_a_folder_without_compiled_modules_is_read_from_its_files(tmp_path: pathlib.Path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "hello.html").write_text("Hello {{ name }}!\n")

    from_files = templating.environment(templates)
    modules = templating.compile_folder(templates)
    compiled = templating.environment(templates)

    assert type(from_files.loader).__name__ == "FileSystemLoader" and len(modules) == 1
    assert type(compiled.loader).__name__ == "ModuleLoader"
    assert compiled.get_template("hello.html").render(name="<A>") == "Hello &lt;A&gt;!\n" \
        == from_files.get_template("hello.html").render(name="<A>")


def test_a_template_that_does_not_compile_fails_the_packaging(tmp_path: pathlib.Path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "broken.txt").write_text("{% if %}")

    with pytest.raises(Exception, match="Expected an expression"):
        templating.compile_folder(templates)

