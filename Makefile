# Discussion Hub: `make run` starts everything locally, `make test` runs every test. Both install first.
SHELL       := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

LOCK   := $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 --no-header \
          --annotation-style line

.PHONY: install run test lint typecheck lock openapi token clean mails ses-event deliver digest bench bench-replies spam-score \
        package deploy teardown

# The lock files (pinned, hashed) are what gets installed: the same packages on every machine and in the Lambda package.
# One dot per package while pip works (its whole output is in .venv/install.log, and printed if it fails).
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@printf 'Installing the %s pinned packages of requirements-dev.txt into $(VENV) ' \
		"$$(grep -c '^[A-Za-z0-9].*==' requirements-dev.txt)"
	@$(BIN)/python -m pip install --require-hashes -r requirements-dev.txt --progress-bar off 2>&1 \
		| tee $(VENV)/install.log | awk '/^(Collecting|Processing) /{printf "."; fflush()} END{print " done"}' \
		|| { echo; cat $(VENV)/install.log; exit 1; }
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# After editing requirements.in or requirements-dev.in: pin everything again (runtime first; dev is held to it).
lock: install
	$(LOCK) -o requirements.txt requirements.in
	$(LOCK) -c requirements.txt -o requirements-dev.txt requirements-dev.in

# PORT (API, 8000), MOTO_PORT (5555), MAILBOX_PORT (8025); RELOAD=1 restarts the API when a file changes.
run: install
	@$(BIN)/python scripts/run_local.py

# Everything CI checks: lint, types, then every test on every core. PYTEST_ARGS narrows it (see README, Tests).
test: install lint typecheck
	$(BIN)/python -m pytest $(or $(PYTEST_ARGS),-q -n auto)

# The OpenAPI document from the routes' models (chalicelib/contract/build.py), and the operations list of docs/api.md.
openapi: install
	$(BIN)/python -m chalicelib.contract.build
	$(BIN)/python scripts/api_overview.py

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

token: install
	@$(BIN)/python scripts/make_token.py --tenant "$(or $(TENANT),demo-tenant)" --user "$(or $(USER_ID),demo-user)" --roles "$(or $(ROLES),admin)"

clean:
	rm -rf $(VENV) .pytest_cache

# The helpers below find the ports of the running `make run` by themselves (PORT / MOTO_PORT override).
mails: install
	@$(BIN)/python scripts/show_mail.py

# Feed an SES event through the SNS handler on the local stack: KIND=bounce|soft-bounce|complaint|delivery|open|click
# SES_ID=... TO=... (make mails prints them), or FILE=event.json.
ses-event: install
	@$(BIN)/python scripts/ses_event.py \
		$(if $(FILE),--file "$(FILE)",--simulate "$(KIND)" --ses-message-id "$(SES_ID)" --recipient "$(TO)")

# Run the digest now against the local stack (AT=2026-11-24T09:00:00Z to run it as of another time).
digest: install
	@$(BIN)/python scripts/run_digest.py $(if $(AT),--at "$(AT)")

# Benchmarks (in-process, against moto): print a table and write bench/results/latest.json (QUICK=1: small data).
bench: install
	$(BIN)/python bench/run.py $(if $(QUICK),--quick)

# Every kind of mail we send, scored by SpamAssassin (apt-get install -y spamassassin); see docs/mail-journeys.md.
spam-score: install
	$(BIN)/python bench/spam_score.py

# Reply extraction: ours vs email-reply-parser and mail-parser-reply on every reply fixture (docs/inbound-mail.md).
bench-replies: install
	$(BIN)/python bench/reply_extraction.py $(if $(FAILURES),--show-failures)

# Deliver a raw email to the local stack as SES receiving would (S3 object + SNS notification).
deliver: install
	@$(BIN)/python scripts/deliver_mail.py "$(FILE)"

# The Lambda package and its CloudFormation template (Chalice's, merged with infra/), cfn-lint checked.
package: install
	$(BIN)/python scripts/deploy.py deploy --stage "$(or $(STAGE),dev)" --dry-run

# The whole system as one CloudFormation stack: make deploy STAGE=dev FROM_ADDRESS=hub@example.com
#   JWT_ISSUER=https://cognito-idp.REGION.amazonaws.com/POOL [JWT_AUDIENCE=...] [REPLY_DOMAIN=reply.example.com]
#   [ALERT_EMAIL=ops@example.com] [PUBLIC_BASE_URL=https://api.example.com]
#   [APP_DISCUSSION_URL=https://app.example.com/discussions/{id}] [APP_COMMUNITY_THREAD_URL=https://app.example.com/community/threads/{id}]
deploy: install
	$(BIN)/python scripts/deploy.py deploy --stage "$(or $(STAGE),dev)" --from-address "$(FROM_ADDRESS)" \
		--jwt-issuer "$(JWT_ISSUER)" --jwt-audience "$(JWT_AUDIENCE)" --reply-domain "$(REPLY_DOMAIN)" \
		--alert-email "$(ALERT_EMAIL)" --public-base-url "$(PUBLIC_BASE_URL)" \
		--app-discussion-url "$(APP_DISCUSSION_URL)" --app-community-thread-url "$(APP_COMMUNITY_THREAD_URL)"

teardown: install
	$(BIN)/python scripts/deploy.py teardown --stage "$(or $(STAGE),dev)"
