"""The whole loop in a real browser: Debian's Chromium, driven by Playwright, against `make run`.

It reads the API docs page, creates and emails a discussion, reads the email in the local mailbox as the recipient,
shows its images (the tracking pixel: an open), follows a link, replies through the page's form, and sees the reply
in the discussion: in the page (read from the API across origins, CORS) and through the API. Screenshots go to
artefacts/browser/ (git-ignored). Without /usr/bin/chromium this fails: `.ci/run` installs it
(`apt-get install -y chromium`); Playwright's own browser download (`playwright install`) is never used.
"""
from __future__ import annotations

import json
import pathlib
import re
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.test_local_stack import start_local_stack, stop_local_stack

pytestmark = pytest.mark.slow  # starts the local stack and a browser

CHROMIUM = pathlib.Path("/usr/bin/chromium")
# What this machine's closed network needs (no first-run, update, sync or QUIC traffic that would stall start-up).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTEFACTS = ROOT / "artefacts" / "browser"
CASEY = "casey@example.com"
REPLY = "Tuesday works for us. Please send the final quote."


@pytest.fixture
def stack(tmp_path):
    process, output, token = start_local_stack(tmp_path / "stack.json")
    api, _, mailbox = (f"http://127.0.0.1:{port}" for port in process.ports)
    yield api, mailbox, {"Authorization": f"Bearer {token}"}
    stop_local_stack(process)


@pytest.fixture
def browser(tmp_path):
    assert CHROMIUM.exists(), "Debian's Chromium is needed: apt-get install -y chromium (.ci/run installs it)"
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # A persistent context on an empty profile directory: Chromium's own --user-data-dir, fresh for each run.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            # Tall enough that nothing needs scrolling: after scrolling by itself, Playwright 1.65's click missed its
            # button under Debian's Chromium 156 (no click event reached the page).
            viewport={"width": 1200, "height": 2000})
        context.set_default_timeout(15_000)
        yield context
        context.close()


def _wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return result


def test_a_person_runs_the_whole_loop_from_a_browser(stack, browser):
    from playwright.sync_api import expect

    api, mailbox, headers = stack
    page = browser.new_page()
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)

    # The docs page: Swagger UI renders every documented operation, from files the API serves itself.
    page.goto(f"{api}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Discussion Hub")
    operations = sum(1 for item in json.loads((ROOT / "chalicelib" / "openapi.json").read_text())["paths"].values()
                     for method in item if method in {"get", "put", "post", "delete", "head"})
    expect(page.locator(".swagger-ui .opblock")).to_have_count(operations)
    assert blocked == [], blocked  # nothing the page needs is refused by its Content-Security-Policy
    page.screenshot(path=ARTEFACTS / "1-docs.png")

    # A discussion with an external participant, emailed (through the API, as a front-end would).
    created = requests.post(f"{api}/api/tenant/threads", headers=headers, timeout=10, json={
        "subject": "Spring event: final quote", "initial_message": "Hello Casey, the terms: https://example.com/terms",
        "participants": [{"email": CASEY, "name": "Casey Client"}]}).json()
    queued = requests.post(f"{api}/api/tenant/threads/{created['id']}/send", headers=headers, json={}, timeout=30)
    assert queued.status_code == 202 and queued.json()["queued"][0]["recipients"] == [CASEY], queued.text
    tracking, deadline = f"{api}{queued.json()['tracking_url']}", time.monotonic() + 30
    while time.monotonic() < deadline:  # the stack's job worker sends the copy in the background
        states = [r["state"] for r in requests.get(tracking, headers=headers, timeout=10).json()["recipients"]]
        if states == ["sent"]:
            break
        time.sleep(0.2)
    assert states == ["sent"], states

    # Casey's mailbox: the email as Casey sees it, in a sandboxed frame.
    page.goto(mailbox)
    page.get_by_role("link", name=CASEY).click()
    page.get_by_role("link", name="Demo Events").first.click()
    expect(page.locator("h1")).to_have_text("Spring event: final quote")
    expect(page.frame_locator("iframe").locator("body")).to_contain_text("Hello Casey")
    # The discussion panel: this page (another origin) reads the API with the demo token, which CORS allows.
    expect(page.locator("#discussion .messages li")).to_have_count(1)
    page.screenshot(path=ARTEFACTS / "2-mail.png", full_page=True)

    # "Show images": the browser loads the tracking pixel, an open; the link is followed as Casey's browser.
    page.get_by_role("link", name="Show images").click()
    expect(page).to_have_url(re.compile(r"\?images=1$"))
    expect(page.frame_locator("iframe").locator("img")).to_have_js_property("naturalWidth", 1)  # the 1×1 GIF came
    expect(page.locator("#discussion")).to_have_attribute("data-loaded", "true")  # the page has settled
    page.get_by_role("button", name="Click").first.click()
    expect(page.locator(".notice")).to_contain_text("the API answered 302, to https://example.com/terms")
    tracking = f"{api}/api/tenant/threads/{created['id']}/tracking"
    stats = _wait_for(lambda: (s := requests.get(tracking, headers=headers, timeout=10).json())["opened"] and s)
    assert stats["opened"] == 1 and stats["clicked"] == 1 and stats["recipients"][0]["human_opened_at"], stats

    # The reply, written in the page's form and delivered through SES receiving's path.
    page.locator("#reply-text").fill(REPLY)
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".notice")).to_contain_text("the inbound handler answered: posted")
    expect(page.locator("#discussion .messages li")).to_have_count(2)
    expect(page.locator("#discussion .messages li").last).to_contain_text(REPLY)
    expect(page.locator(".conversation li")).to_have_count(2)  # Casey's mailbox threads the reply with the email
    page.screenshot(path=ARTEFACTS / "3-replied.png", full_page=True)

    discussion = requests.get(f"{api}/api/tenant/threads/{created['id']}", headers=headers, timeout=10).json()
    assert [(m["author"], m["body"]) for m in discussion["messages"]][-1] == (CASEY, REPLY)
