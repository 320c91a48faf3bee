"""The jobs outbox table: one item per background job not yet finished."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db import table_meta
from chalicelib.tables import Table


class JobRecord(Table):
    """One job not yet finished: written with the change that needs it, deleted when the job is done."""
    Meta = table_meta("jobs")

    shard = UnicodeAttribute(hash_key=True)       # jobs#0 … jobs#7, so the sweeper reads a few partitions
    job_id = UnicodeAttribute(range_key=True)     # time-ordered
    kind = UnicodeAttribute()
    payload = UnicodeAttribute()                  # JSON; replaced by the continuation as a job progresses
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    runs = NumberAttribute(default=0)


MODELS = (JobRecord,)
