"""The tenant's suppression list: addresses that bounced hard or complained are never mailed again."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DeleteError

from chalicelib import clock
from chalicelib.db import decode_cursor, encode_cursor, set_or_remove
from chalicelib.errors import NotFound
from chalicelib.tracking.models import Suppression
from chalicelib.transactions import Tx


def suppressed_among(tenant_id: str, emails: list[str]) -> set[str]:
    """Which of these addresses are suppressed: one BatchGet."""
    if not emails:
        return set()
    return {item.email for item in Suppression.batch_get([(tenant_id, e.lower()) for e in set(emails)])
            if item.suppressed_at}


def suppress(tenant_id: str, email: str, reason: str, detail: str | None) -> None:
    item = Suppression(tenant_id, email.lower())
    item.update(actions=[Suppression.reason.set(reason), set_or_remove(Suppression.detail, (detail or "")[:500]),
                         Suppression.suppressed_at.set(Suppression.suppressed_at | clock.now_iso())])


def count_soft_bounce(tenant_id: str, email: str, detail: str | None, limit: int) -> bool:
    """One more soft bounce in a row; at `limit` the address is suppressed too. True if now suppressed."""
    item = Suppression(tenant_id, email.lower())
    item.update(actions=[Suppression.soft_bounces_in_a_row.add(1)])
    if int(item.soft_bounces_in_a_row) >= limit:
        suppress(tenant_id, email, "soft_bounces", detail)
        return True
    return False


def end_soft_bounce_run_in(tx: Tx, tenant_id: str, email: str) -> None:
    """Into the delivery's transaction: a delivery breaks a run of soft bounces (refused, as "soft bounces", where no
    run is counted or the address is suppressed). Only for a copy whose recipient was in a run when the copy was
    written (EmailTracking.soft_bounce_run): most deliveries write nothing here. A run that began after the copy was
    written is not broken by its delivery: the address may then be suppressed for SOFT_BOUNCE_LIMIT soft bounces
    with that one delivery among them."""
    tx.update("soft bounces", Suppression(tenant_id, email.lower()), [Suppression.soft_bounces_in_a_row.set(0)],
              condition=Suppression.email.exists() & Suppression.suppressed_at.does_not_exist())


def as_json(item: Suppression) -> dict[str, Any]:
    return {"email": item.email, "reason": item.reason, "detail": item.detail,
            "suppressed_at": item.suppressed_at}


def list_page(tenant_id: str, limit: int, cursor: str | None) -> tuple[list[Suppression], str | None]:
    scope = f"{tenant_id}|suppressions"
    results = Suppression.query(tenant_id, filter_condition=Suppression.suppressed_at.exists(), limit=limit,
                                last_evaluated_key=decode_cursor(cursor, scope))
    items = list(results)
    return items, encode_cursor(results.last_evaluated_key, scope)


def lift(tenant_id: str, email: str) -> None:
    """Take the address off the list; its participants no longer show a bounce or complaint status."""
    from chalicelib.discussions import service as discussions

    try:
        Suppression(tenant_id, email.lower()).delete(condition=Suppression.suppressed_at.exists())
    except DeleteError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound("this address is not on the suppression list") from None
        raise
    discussions.clear_email_status_everywhere(tenant_id, email)
