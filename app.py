"""Discussion Hub: the Chalice app. It only wires blueprints and event handlers; the logic lives in chalicelib/."""
import logging
import os

from chalice import Chalice, Rate

from chalicelib.config import stage_resource
from chalicelib.lazy import collect_after_first_call

app = Chalice(app_name="discussion-hub")
# LOG_LEVEL (.chalice/config.json, default INFO) sets what the service's own loggers write; the SDK keeps its own.
_level = (os.environ.get("LOG_LEVEL") or "INFO").upper()
logging.getLogger("chalicelib").setLevel(_level if _level in logging.getLevelNamesMapping() else "INFO")
# Every handler: no garbage collection while a cold container's first call loads the code (chalicelib/lazy.py).
app.register_middleware(collect_after_first_call, "all")

# SNS topics are named at deploy time; the SES configuration set and identity notifications publish here.
SES_EVENTS_TOPIC = os.environ.get("SES_EVENTS_TOPIC") or stage_resource("ses-events")
# The SES receipt rule stores inbound mail in S3 and notifies this topic (on_s3_event cannot be packaged).
INBOUND_MAIL_TOPIC = os.environ.get("INBOUND_MAIL_TOPIC") or stage_resource("inbound-mail")
# Background work (sending each copy, notification fan-out, purges) written to the jobs outbox and queued here.
JOBS_QUEUE = os.environ.get("JOBS_QUEUE") or stage_resource("jobs")
# At most this many `jobs` Lambdas at once: the account's SES send rate is shared among them (mail/ses.py).
JOBS_MAX_CONCURRENCY = 50  # = chalicelib.jobs.MAX_CONCURRENCY (kept literal: importing jobs would load boto3 here)


@app.on_sns_message(topic=SES_EVENTS_TOPIC)
def ses_events(event):
    from chalicelib.tracking import events

    return events.handle_lambda_event(event.to_dict())


@app.schedule(Rate(15, unit=Rate.MINUTES))
def retry_failed_sends(event):
    # Queues again every copy left unfinished (a lost queue message, a crashed run): mail/send.py, step 4.
    from chalicelib.mail import send

    return send.sweep()


@app.on_sns_message(topic=INBOUND_MAIL_TOPIC)
def inbound_mail(event):
    import json

    from chalicelib.mail import receive

    outcomes = []
    for record in event.to_dict().get("Records", []):
        outcome = receive.handle_receipt(json.loads(record["Sns"]["Message"]))
        outcomes.append({"status": outcome.status, "reason": outcome.reason, "message_id": outcome.message_id})
    return outcomes


@app.on_sqs_message(queue=JOBS_QUEUE, batch_size=1, maximum_concurrency=JOBS_MAX_CONCURRENCY)
def jobs(event):
    # One message per invocation: a failure redelivers only that job (it is idempotent), then the DLQ.
    from chalicelib import jobs as background

    return [background.run_message(record.body) for record in event]


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_jobs(event):
    from chalicelib import jobs as background

    return {"resent": background.sweep()}


@app.schedule(Rate(1, unit=Rate.HOURS))
def digest_tick(event):
    # Queues one job per shard of users whose digest is due; the jobs handler does the rest in parallel.
    from chalicelib.notifications import digest

    return {"shards": digest.tick()}


def _register_api() -> None:
    """The HTTP API: every feature's routes, and the middleware of HTTP requests."""
    from chalicelib.community.routes import blueprint as community
    from chalicelib.cors import add_preflight_routes, cors_headers
    from chalicelib.discussions.downloads import blueprint as downloads
    from chalicelib.discussions.routes import blueprint as discussions
    from chalicelib.docs_page import blueprint as docs_page
    from chalicelib.http import framework_errors
    from chalicelib.identities.routes import blueprint as identities
    from chalicelib.mail.routes import blueprint as mail
    from chalicelib.notifications.routes import blueprint as notifications
    from chalicelib.openapi import blueprint as openapi
    from chalicelib.tracking.routes import blueprint as tracking
    from chalicelib.users.routes import blueprint as users

    # The pixel is binary only where the Accept header asks for an image (NOTES.md); JSON routes stay as they are.
    app.api.binary_types.append("image/*")
    for blueprint in (discussions, downloads, mail, tracking, notifications, community, users, identities, openapi,
                      docs_page):
        app.register_blueprint(blueprint)
    # Chalice's own 415/405/500 answers in each API family's error shape.
    app.register_middleware(framework_errors, "http")
    # Browser origins allowed per stage (CORS_ALLOWED_ORIGINS, none by default); preflights on every path.
    app.register_middleware(cors_headers, "http")
    add_preflight_routes(app)


# Every handler of the app is its own Lambda function, and Lambda names the one a function runs in `_HANDLER`
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html): `app.app` for the API, `app.jobs` and
# the like for the event handlers above, which never route; their cold starts do not import every feature's routes
# (a sixth of the app's import, bench/coldstart.py). Anything else, or nothing (tests, `chalice local`, `chalice
# package`, scripts), gets the API.
if os.environ.get("_HANDLER") not in {source.handler_string for source in app.event_sources}:
    _register_api()
