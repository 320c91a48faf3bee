"""The base of every PynamoDB model, and every model of the app (one per DynamoDB table: the list the infra drift
test and tests use)."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TableError
from pynamodb.models import Model


class Table(Model):
    """The base of every model: all tables share `db.connection()`, so a container builds one botocore session and
    one DynamoDB client rather than one per model (PynamoDB's default). Building a client loads botocore's service
    model: a cold digest built nine, half its CPU time (bench/coldstart.py, issue 22)."""

    @classmethod
    def _get_connection(cls) -> Any:
        from chalicelib import db

        table = super()._get_connection()
        shared = db.connection()
        if table.connection is not shared:
            try:
                shared.get_meta_table(cls.Meta.table_name)
            except TableError:
                shared.add_meta_table(table.connection.get_meta_table(cls.Meta.table_name))
            table.connection = shared
        return table


def all_models() -> tuple[type[Model], ...]:
    from chalicelib.claims import MODELS as CLAIM_MODELS
    from chalicelib.community.models import MODELS as COMMUNITY_MODELS
    from chalicelib.discussions.models import MODELS as DISCUSSION_MODELS
    from chalicelib.identities.models import MODELS as IDENTITY_MODELS
    from chalicelib.jobs.models import MODELS as JOB_MODELS
    from chalicelib.mail.models import MODELS as MAIL_MODELS
    from chalicelib.notifications.models import MODELS as NOTIFICATION_MODELS
    from chalicelib.tracking.models import MODELS as TRACKING_MODELS
    from chalicelib.users.models import MODELS as USER_MODELS

    return (*DISCUSSION_MODELS, *MAIL_MODELS, *TRACKING_MODELS,
            *NOTIFICATION_MODELS, *COMMUNITY_MODELS, *USER_MODELS, *JOB_MODELS, *CLAIM_MODELS,
            *IDENTITY_MODELS)
