"""Every PynamoDB model of the app, one per DynamoDB table: the list the infra drift test and tests use."""
from __future__ import annotations

from pynamodb.models import Model


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
