"""The API's one contract: typed models validate requests, shape responses and generate chalicelib/openapi.json.

`chalicelib/http.py` declares routes with the models they take and answer (named as strings, loaded on the first
request that needs them: importing the app never imports pydantic); `types.py` holds the field types, whose one
set of parameters gives both the check and its JSON Schema; `problems.py` turns validation errors into each API
family's error shape; `build.py` writes the OpenAPI document from the declared routes (`make openapi`);
`aws_events.py` types what AWS sends the event handlers (SNS envelopes, SES events, SES receipt notifications).
"""
import os

# Pydantic looks for plugins (entry points of every installed distribution) when it builds its first validator;
# the service uses none, and the scan is CPU a cold start pays for nothing (bench/coldstart.py). Documented switch:
# https://docs.pydantic.dev/latest/concepts/plugins/#disabling-plugins (an operator's own setting wins).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
