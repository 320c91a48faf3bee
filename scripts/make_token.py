"""`make token`: print a bearer token for stage `local` (HS256, signed with the local JWT_SECRET)."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.auth import issue_local_token  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", default="demo-tenant")
    parser.add_argument("--user", default="demo-user")
    parser.add_argument("--roles", default="admin", help="comma-separated, e.g. admin,staff")
    parser.add_argument("--email", default=None)
    parser.add_argument("--hours", type=int, default=12)
    arguments = parser.parse_args()
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    secret = config["stages"]["local"]["environment_variables"]["JWT_SECRET"]
    roles = [role for role in arguments.roles.split(",") if role]
    print(issue_local_token(arguments.tenant, arguments.user, roles, secret, ttl_seconds=arguments.hours * 3600,
                            email=arguments.email))


if __name__ == "__main__":
    main()
