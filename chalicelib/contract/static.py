"""The parts of the OpenAPI document that no model describes: the document's head, the error responses' words,
and the routes that answer no JSON (the open pixel, click links, one-click unsubscribe, the docs page). Read by
`build.py` (`make openapi`); everything under /api comes from the routes' models."""
from __future__ import annotations

from typing import Any

HEAD: dict[str, Any] = {'openapi': '3.1.0',
 'info': {'title': 'Discussion Hub',
          'version': '1.0.0',
          'description': 'A serverless email-discussion service and community board (Chalice on AWS Lambda).\n'
                         '\n'
                         '* `/api/tenant/*`: JSON in and out, snake_case; every error is `{"error": {"code", '
                         '"message", "field"}}`. The tenant always comes from the bearer token.\n'
                         "* `/api/community/*`: the seed's PascalCase API. Writes answer the community envelope "
                         '(`Status`, `Message`, `Value`, ..., `WasSuccessful`); GETs answer the record itself; '
                         'lists answer `{Records, PageSize, NextCursor, HasNextPage}`; every failure is the '
                         'envelope with `Errors`.\n'
                         '* `/t/*` (open pixel, click links), `/u/*` (one-click unsubscribe) and `/openapi.json` '
                         'need no token.\n'
                         '\n'
                         'Tokens: stage `local` accepts HS256 tokens signed with JWT_SECRET; deployed stages RS256 '
                         "from the issuer's JWKS. Claims: `sub`, `tenant_id` (or `custom:tenant_id`), `roles` (or "
                         '`cognito:groups`); for the board, a numeric `user_id` (or `custom:user_id`, or a numeric '
                         '`sub`) and optionally `business_ids`.\n'
                         '\n'
                         'Request bodies are at most MAX_REQUEST_BYTES (6 MiB) (413). A route answers 503 with '
                         "`Retry-After` when AWS throttles it beyond the SDK's retries; nothing was written. A "
                         "request whose Content-Type is not JSON is refused with 415 in the family's error shape, "
                         'naming `Content-Type` (POST /u/{token} also takes forms and text).'},
 'servers': [{'url': '/'}],
 'security': [{'bearerAuth': []}],
 'tags': [{'name': 'discussions',
           'description': 'Tenant discussions: staff, clients and freelancers, by email too.'},
          {'name': 'email',
           'description': 'Communication settings, sending, and the record of every inbound mail.'},
          {'name': 'sending',
           'description': "Sending identities (domains and addresses SES verified for the tenant) and the tenant's "
                          'sending reputation.'},
          {'name': 'tracking', 'description': 'Open pixel, click links, statistics and the suppression list.'},
          {'name': 'notifications',
           'description': "The caller's notifications, preferences, templates, unsubscribe."},
          {'name': 'users', 'description': 'The user directory notifications are sent to.'},
          {'name': 'community', 'description': "The members' community board, in the seed's PascalCase envelope."},
          {'name': 'meta', 'description': 'This document.'}]}

COMPONENTS: dict[str, Any] = {'parameters': {'unsubscribe_token': {'description': 'the signed token of an unsubscribe link; a value the '
                                      'service did not issue: 400; a value the service did not '
                                      'issue: 400; a value the service did not issue: 400; a value '
                                      'the service did not issue: 400; a value the service did not '
                                      'issue: 400',
                       'in': 'path',
                       'name': 'token',
                       'required': True,
                       'schema': {'maxLength': 1000, 'type': 'string'},
                       'x-issued-by-server': True}},
 'securitySchemes': {'bearerAuth': {'type': 'http',
                                    'scheme': 'bearer',
                                    'bearerFormat': 'JWT',
                                    'description': 'HS256 (stage local) or RS256 via JWKS (Cognito)'}},
 'responses': {'UnsupportedMediaType': {'description': "The request's Content-Type is not JSON (a request without "
                                                       'one counts as JSON); field is "Content-Type".',
                                        'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'BadRequest': {'description': 'Bad input: malformed JSON, a wrong type, an unknown field, an '
                                             'invalid query parameter or cursor.',
                              'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'Unauthorized': {'description': 'Missing, expired or invalid bearer token.',
                                'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'Forbidden': {'description': 'The caller lacks the role this needs.',
                             'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'NotFound': {'description': "Unknown id (another tenant's ids look the same).",
                            'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'Conflict': {'description': 'The resource is in the wrong state for this.',
                            'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'PayloadTooLarge': {'description': 'The request body (or the file) is too large.',
                                   'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
               'ServiceUnavailable': {'description': "AWS throttled the request beyond the SDK's retries; nothing "
                                                     'was changed, try again.',
                                      'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}},
                                      'headers': {'Retry-After': {'description': 'seconds to wait before trying '
                                                                                 'again',
                                                                  'schema': {'type': 'integer'}}}},
               'CommunityBadRequest': {'description': 'Invalid input: every failing field is listed in Errors '
                                                      '(malformed JSON and non-objects fail on `Body`).',
                                       'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}},
               'CommunityUnauthorized': {'description': 'Missing or invalid token (PropertyName `Authorization`).',
                                         'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}},
               'CommunityForbidden': {'description': 'The caller lacks the role (admin or Entity-Action), or may '
                                                     'not act on this.',
                                      'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}},
               'CommunityNotFound': {'description': 'Unknown id, or one the caller cannot see (the two look the '
                                                    'same).',
                                     'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}},
               'CommunityConflict': {'description': 'Conflict with the current state.',
                                     'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}},
               'CommunityPayloadTooLarge': {'description': 'The request body is too large (PropertyName `Body`).',
                                            'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}},
               'CommunityServiceUnavailable': {'description': "AWS throttled the request beyond the SDK's retries; "
                                                              'nothing was changed, try again.',
                                               'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}},
                                               'headers': {'Retry-After': {'description': 'seconds to wait before '
                                                                                          'trying again',
                                                                           'schema': {'type': 'integer'}}}},
               'CommunityUnsupportedMediaType': {'description': "The request's Content-Type is not JSON (a request "
                                                                'without one counts as JSON); PropertyName is '
                                                                '"Content-Type".',
                                                 'content': {'application/json': {'schema': {'$ref': '#/components/schemas/CommunityError'}}}}}}

PATHS: dict[str, Any] = {'/': {'get': {'operationId': 'api_root',
               'summary': 'The bare API URL: a redirect to the docs page',
               'tags': ['meta'],
               'security': [],
               'responses': {'302': {'description': 'To `docs` under the same stage prefix.',
                                     'headers': {'Location': {'schema': {'type': 'string'}}}}}}},
 '/docs': {'get': {'operationId': 'docs_page',
                   'summary': 'This document, read in Swagger UI',
                   'description': 'Swagger UI 5 over `openapi.json`; its scripts and styles come from this API '
                                  '(`/docs/{asset}`), never a CDN.',
                   'tags': ['meta'],
                   'security': [],
                   'responses': {'200': {'description': 'The page',
                                         'content': {'text/html': {'schema': {'type': 'string'}}}}}}},
 '/docs/{asset}': {'get': {'operationId': 'docs_asset',
                           'summary': 'A script or style sheet of the docs page',
                           'tags': ['meta'],
                           'security': [],
                           'parameters': [{'name': 'asset',
                                           'in': 'path',
                                           'required': True,
                                           'description': '`swagger-ui-bundle.js`, `swagger-ui.css` or `init.js`',
                                           'schema': {'type': 'string'}}],
                           'responses': {'200': {'description': 'The file',
                                                 'content': {'application/javascript': {'schema': {'type': 'string'}},
                                                             'text/css': {'schema': {'type': 'string'}}}},
                                         '404': {'description': 'Not a file of the docs page',
                                                 'content': {'text/plain': {'schema': {'type': 'string'}}}}}}},
 '/openapi.json': {'get': {'operationId': 'openapi_document',
                           'summary': 'This OpenAPI document',
                           'tags': ['meta'],
                           'security': [],
                           'responses': {'200': {'description': 'The OpenAPI 3.1 document',
                                                 'content': {'application/json': {'schema': {'type': 'object',
                                                                                             'required': ['openapi',
                                                                                                          'info',
                                                                                                          'paths']}}}}}}},
 '/t/c/{token}': {'get': {'operationId': 'click',
                          'summary': 'Click link: record the click and redirect to the original link',
                          'tags': ['tracking'],
                          'security': [],
                          'parameters': [{'name': 'token',
                                          'in': 'path',
                                          'required': True,
                                          'description': '`PIXEL_ID-LINK_INDEX`',
                                          'schema': {'type': 'string'}}],
                          'responses': {'302': {'description': 'Redirect to the original link.',
                                                'headers': {'Location': {'schema': {'type': 'string',
                                                                                    'format': 'uri'}},
                                                            'Cache-Control': {'description': 'no-store, no-cache, '
                                                                                             'must-revalidate, '
                                                                                             'max-age=0',
                                                                              'schema': {'type': 'string'}}}},
                                        '404': {'description': 'Unknown or altered token: redirects nowhere.',
                                                'headers': {'Cache-Control': {'description': 'no-store, no-cache, '
                                                                                             'must-revalidate, '
                                                                                             'max-age=0',
                                                                              'schema': {'type': 'string'}}},
                                                'content': {'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}},
                                        '503': {'$ref': '#/components/responses/ServiceUnavailable'}}}},
 '/t/o/{pixel_file}': {'get': {'operationId': 'open_pixel',
                               'summary': 'Open pixel: record the open',
                               'tags': ['tracking'],
                               'description': 'No token: the unguessable pixel id is the key. The open is recorded '
                                              'first, then the image (or a redirect to it) is answered; there is '
                                              'no error answer.',
                               'security': [],
                               'parameters': [{'name': 'pixel_file',
                                               'in': 'path',
                                               'required': True,
                                               'description': '`PIXEL_ID.gif` (32 hex digits); an unknown pixel is '
                                                              'answered all the same and records nothing',
                                               'schema': {'type': 'string'}}],
                               'responses': {'200': {'description': 'The 1×1 GIF, when the Accept header names an '
                                                                    'image type or `*/*`.',
                                                     'headers': {'Cache-Control': {'description': 'no-store, '
                                                                                                  'no-cache, '
                                                                                                  'must-revalidate, '
                                                                                                  'max-age=0',
                                                                                   'schema': {'type': 'string'}}},
                                                     'content': {'image/gif': {'schema': {'type': 'string',
                                                                                          'contentMediaType': 'image/gif'}}}},
                                             '302': {'description': 'Otherwise a redirect to the static copy of '
                                                                    'the GIF (STATIC_PIXEL_URL).',
                                                     'headers': {'Location': {'schema': {'type': 'string',
                                                                                         'format': 'uri'}},
                                                                 'Cache-Control': {'description': 'no-store, '
                                                                                                  'no-cache, '
                                                                                                  'must-revalidate, '
                                                                                                  'max-age=0',
                                                                                   'schema': {'type': 'string'}}}}}},
                       'head': {'operationId': 'open_pixel_head',
                                'summary': 'Open pixel: record the open (a HEAD counts as a machine open)',
                                'tags': ['tracking'],
                                'description': 'No token: the unguessable pixel id is the key. The open is '
                                               'recorded first, then the image (or a redirect to it) is answered; '
                                               'there is no error answer.',
                                'security': [],
                                'parameters': [{'name': 'pixel_file',
                                                'in': 'path',
                                                'required': True,
                                                'description': '`PIXEL_ID.gif` (32 hex digits); an unknown pixel '
                                                               'is answered all the same and records nothing',
                                                'schema': {'type': 'string'}}],
                                'responses': {'200': {'description': 'The 1×1 GIF, when the Accept header names an '
                                                                     'image type or `*/*`.',
                                                      'headers': {'Cache-Control': {'description': 'no-store, '
                                                                                                   'no-cache, '
                                                                                                   'must-revalidate, '
                                                                                                   'max-age=0',
                                                                                    'schema': {'type': 'string'}}},
                                                      'content': {'image/gif': {'schema': {'type': 'string',
                                                                                           'contentMediaType': 'image/gif'}}}},
                                              '302': {'description': 'Otherwise a redirect to the static copy of '
                                                                     'the GIF (STATIC_PIXEL_URL).',
                                                      'headers': {'Location': {'schema': {'type': 'string',
                                                                                          'format': 'uri'}},
                                                                  'Cache-Control': {'description': 'no-store, '
                                                                                                   'no-cache, '
                                                                                                   'must-revalidate, '
                                                                                                   'max-age=0',
                                                                                    'schema': {'type': 'string'}}}}}}},
 '/u/{token}': {'get': {'operationId': 'unsubscribe_page',
                        'summary': 'One-click unsubscribe: the confirmation page',
                        'tags': ['notifications'],
                        'description': 'Changes nothing (mail scanners open links): a page with a button that '
                                       'POSTs to the same URL.',
                        'security': [],
                        'parameters': [{'$ref': '#/components/parameters/unsubscribe_token'}],
                        'responses': {'200': {'description': 'The confirmation page.',
                                              'content': {'text/html': {'schema': {'type': 'string',
                                                                                   'contentMediaType': 'text/html'}}}},
                                      '400': {'description': 'A forged or altered link.',
                                              'content': {'text/html': {'schema': {'type': 'string',
                                                                                   'contentMediaType': 'text/html'}}}}}},
                'post': {'operationId': 'unsubscribe_now',
                         'summary': 'One-click unsubscribe (RFC 8058)',
                         'tags': ['notifications'],
                         'description': "Sets the user's digest frequency to `never`. The body is not read (mail "
                                        'clients send `List-Unsubscribe=One-Click`).',
                         'security': [],
                         'parameters': [{'$ref': '#/components/parameters/unsubscribe_token'}],
                         'responses': {'200': {'description': 'Unsubscribed.',
                                               'content': {'text/html': {'schema': {'type': 'string',
                                                                                    'contentMediaType': 'text/html'}}}},
                                       '400': {'description': 'A forged or altered link; nothing changes.',
                                               'content': {'text/html': {'schema': {'type': 'string',
                                                                                    'contentMediaType': 'text/html'}}}}},
                         'requestBody': {'required': False,
                                         'content': {'application/x-www-form-urlencoded': {'schema': {'type': 'object',
                                                                                                      'properties': {'List-Unsubscribe': {'const': 'One-Click'}}}},
                                                     'multipart/form-data': {'schema': {'type': 'object',
                                                                                        'properties': {'List-Unsubscribe': {'const': 'One-Click'}}}},
                                                     'text/plain': {'schema': {'type': 'string'}},
                                                     'application/json': {'schema': {}}}}}}}
