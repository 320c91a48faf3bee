"""`make digest`: run the hourly digest now against the local stack, print the emails it sent, or say why none.

`--at 2026-11-24T09:00:00Z` runs it as if it were that moment (so tomorrow morning's digests go out today).
The same steps as the hourly schedule and its jobs, run one after another in this process.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
from datetime import datetime

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import local_stack  # noqa: E402

# What each outcome of `digest.send_digest` means to the person who expected an email.
WHY = {"not due": "not due yet",
       "empty": "everything waiting was already read in the app, and an empty digest is never sent",
       "never": "they unsubscribed (digest_frequency `never`): what waited stays listed, unmailed",
       "already sent": "this period's digest was sent before",
       "no_address": "no email address in the users directory (PUT /api/tenant/users/{user_id})",
       "no_sender": "the tenant has no from_address (PUT /api/tenant/settings/communication)",
       "suppressed": "their address is on the tenant's suppression list (it bounced or complained)"}


def next_due() -> tuple[str, str] | None:
    """(when, tenant/user) of the earliest digest scheduled: the first item of each shard of the sparse index."""
    from chalicelib.users.models import DIGEST_SHARDS, UserProfile

    earliest = None
    for shard in range(DIGEST_SHARDS):
        for profile in UserProfile.digest_due.query(str(shard), limit=1):
            candidate = (str(profile.digest_due_at), f"{profile.tenant_id}/{profile.user_id}")
            earliest = min(earliest, candidate) if earliest else candidate
    return earliest


def explain_nothing_sent(outcomes: dict[str, str], moment: str) -> None:
    for user, outcome in outcomes.items():
        print(f"digest {user}: nothing sent: {WHY.get(outcome, outcome)}")
    if outcomes:
        return
    upcoming = next_due()
    if upcoming is None:
        print(f"No digest was due at {moment}: no user has a notification waiting for a digest. Notifications wait "
              "for one when they are not emailed at once (a new message or an email reply in a discussion the user "
              "takes part in, a board reply…), for users with a daily, weekly or monthly digest.")
    else:
        when, user = upcoming
        print(f"No digest was due at {moment}. The next is {user}'s, due at {when}: "
              f"`make digest AT={when}` sends it now.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    local_stack.add_arguments(parser)
    parser.add_argument("--at", help="run as of this UTC time (ISO 8601)")
    arguments = parser.parse_args()
    ports = local_stack.resolve(arguments)
    os.environ.update(local_stack.environment(ports))
    from chalicelib import clock
    from chalicelib.notifications import digest

    if arguments.at:
        moment = datetime.fromisoformat(arguments.at.replace("Z", "+00:00"))
        clock.set_clock(lambda: moment)
    before = len(local_stack.ses_messages(ports))
    # In this process, not through the queue: `make run`'s worker would run queued jobs at the real time.
    outcomes = digest.run_inline()
    sent = local_stack.ses_messages(ports)[before:]
    for user, outcome in outcomes.items():
        if outcome == "sent":
            print(f"digest {user}: sent")
    for message in sent:
        print(f"===== to {(message.get('destinations') or [''])[0]}")
        print(message.get("raw_data", ""))
    if not sent:
        explain_nothing_sent(outcomes, clock.now_iso())
    print(f"({len(sent)} email(s) sent by this digest run; the mailbox page shows them: {ports.mailbox_url})")


if __name__ == "__main__":
    main()
