"""The API's one contract: typed models validate requests, shape responses and generate chalicelib/openapi.json.

`chalicelib/http.py` declares routes with the models they take and answer (named as strings, loaded on the first
request that needs them: importing the app never imports pydantic); `types.py` holds the field types, whose one
set of parameters gives both the check and its JSON Schema; `problems.py` turns validation errors into each API
family's error shape; `build.py` writes the OpenAPI document from the declared routes (`make openapi`);
`aws_events.py` types what AWS sends the event handlers (SNS envelopes, SES events, SES receipt notifications).
"""
