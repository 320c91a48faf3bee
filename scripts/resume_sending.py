"""Resume the sending of a tenant paused over SES's bounce or complaint level (docs/email.md, "Reputation").

    STAGE=prod AWS_REGION=eu-west-1 .venv/bin/python scripts/resume_sending.py TENANT_ID --by "alice (ops)"

With the operator's AWS credentials, once the tenant has removed the addresses that bounced or complained. It prints
the tenant's state and counts, resumes it, and prints them again: from the resume on, only later outcomes are judged
(chalicelib/identities/reputation.py, `resume`). A tenant that is not paused is left as it is (`--force` resumes
anyway, which also starts its judging afresh).
"""
from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def _show(title: str, tenant_id: str) -> str:
    from chalicelib.identities import reputation

    report = reputation.report_of(tenant_id)
    judged = f"since the resume of {report.judged_since}" if report.judged_since else \
        f"over the last {reputation.window_days()} days"
    print(f"{title}: {report.state}{' — ' + report.reason if report.reason else ''}\n"
          f"  {report.delivered} delivered, {report.bounced} hard bounces ({report.bounce_rate:.1%}), "
          f"{report.complained} complaints ({report.complaint_rate:.2%}), {judged}")
    return report.state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tenant_id")
    parser.add_argument("--by", required=True, help="who resumes it (kept as the reason, shown to the tenant's admins)")
    parser.add_argument("--force", action="store_true", help="resume even a tenant that is not paused")
    arguments = parser.parse_args(argv)
    from chalicelib.identities import reputation

    if _show("before", arguments.tenant_id) != "paused" and not arguments.force:
        print("not paused: nothing to do")
        return 0
    reputation.resume(arguments.tenant_id, arguments.by)
    _show("after", arguments.tenant_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
