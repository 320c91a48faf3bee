"""Where the local stack runs, and its environment: shared by `make run` and the helpers (`make mails`, `make digest`…).

`make run` records the ports it really uses in a small state file, outside the project (`chalice local --reload`
restarts on any change inside it); the helpers read it, so after `make run PORT=8101 MOTO_PORT=5600` a plain
`make digest` talks to that moto and puts `http://127.0.0.1:8101` in the links of the emails it sends. A flag,
or PORT / MOTO_PORT in the environment, wins over the file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATE_FILE = pathlib.Path(tempfile.gettempdir()) / (
    f"discussion-hub-local-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}.json")
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
STATIC_BUCKET = "discussion-hub-local-static"


@dataclass(frozen=True)
class Ports:
    api: int = 8000
    moto: int = 5555
    mailbox: int = 8025

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto}"

    @property
    def mailbox_url(self) -> str:
        return f"http://127.0.0.1:{self.mailbox}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="the API's port (default: the running stack's, else 8000)")
    parser.add_argument("--moto-port", type=int, help="moto's port (default: the running stack's, else 5555)")
    parser.add_argument("--state-file", type=pathlib.Path, default=STATE_FILE, help=argparse.SUPPRESS)


def resolve(arguments: argparse.Namespace) -> Ports:
    """The ports of the stack to talk to: flags, then PORT / MOTO_PORT, then what `make run` recorded, then defaults."""
    recorded = recorded_ports(arguments.state_file) or Ports()
    return Ports(api=arguments.port or _env_port("PORT") or recorded.api,
                 moto=arguments.moto_port or _env_port("MOTO_PORT") or recorded.moto,
                 mailbox=_env_port("MAILBOX_PORT") or recorded.mailbox)


def _env_port(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


def recorded_ports(path: pathlib.Path = STATE_FILE) -> Ports | None:
    try:
        return Ports(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def record(ports: Ports, path: pathlib.Path = STATE_FILE) -> None:
    path.write_text(json.dumps(asdict(ports)))


def forget(ports: Ports, path: pathlib.Path = STATE_FILE) -> None:
    """Remove the state file if it still names this stack (another `make run` may have started since)."""
    if recorded_ports(path) == ports:
        path.unlink(missing_ok=True)


def environment(ports: Ports) -> dict[str, str]:
    """The process environment of the app on the local stack: stage `local`, every AWS call to moto."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    env.update(FAKE_CREDENTIALS)
    env.update(config["stages"]["local"]["environment_variables"])
    env["AWS_ENDPOINT_URL"] = ports.moto_url
    env["STATIC_PIXEL_URL"] = f"{ports.moto_url}/{STATIC_BUCKET}/pixel.gif"
    env["PUBLIC_BASE_URL"] = ports.api_url  # pixel, click and unsubscribe links in every email
    return env


def ses_messages(ports: Ports) -> list[dict]:
    """Every raw email moto's SES accepted, oldest first (moto keeps them verbatim: real SES rewrites Message-ID)."""
    try:
        with urllib.request.urlopen(f"{ports.moto_url}/moto-api/data.json", timeout=10) as reply:
            return json.load(reply).get("ses", {}).get("RawMessage", [])
    except urllib.error.URLError as error:
        raise SystemExit(f"no local stack answers at {ports.moto_url} ({error.reason}): is `make run` running?") \
            from None
