# lakepipe developer commands. `make test` and `make demo` work from a clean clone: they build .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
REGION ?= eu-west-3
# The image's Python (functions/Dockerfile: public.ecr.aws/lambda/python:3.13); the code stays 3.11-compatible.
IMAGE_PYTHON := 3.13
TRANSLATED := build/template.translated.json
# Offline and quiet tools: no telemetry, a region for the SDK, no real credentials anywhere near tests.
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= $(REGION)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt functions/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip uv
	$(CHECKOV_VENV)/bin/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt
	@touch $@

.PHONY: venv
venv: $(BIN)/.installed ## Create .venv with every pinned dev dependency

# Locks with hashes for the image's Python on every platform (universal resolution): the image and the
# stand-in base install with --require-hashes, and `make wheels` proves x86_64 and arm64 both resolve.
LOCK_IMAGE := $(BIN)/uv pip compile --quiet --universal --python-version $(IMAGE_PYTHON) --generate-hashes \
  --custom-compile-command "make lock"

.PHONY: lock
lock: $(BIN)/.installed ## Re-pin the image's lock (hashes, py3.13, x86_64 + arm64), the stand-in's, then dev's
	$(LOCK_IMAGE) functions/requirements.in -o functions/requirements.txt
	$(LOCK_IMAGE) tools/image/lambda-python-standin/requirements.in -o tools/image/lambda-python-standin/requirements.txt
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements-dev.in -o requirements-dev.txt

.PHONY: lint
lint: $(BIN)/.installed ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: template
template: $(BIN)/.installed $(CHECKOV_VENV)/.installed ## sam validate --lint, SAM->CFN translation, cfn-lint, checkov
	$(BIN)/sam validate --lint --region $(REGION)
	$(BIN)/python tools/sam_translate.py --output $(TRANSLATED)
	$(BIN)/cfn-lint $(TRANSLATED)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f $(TRANSLATED)

.PHONY: statelint
statelint: $(BIN)/.installed ## statelint on every state machine definition, its SQL copies in sync, Athena's SQL rules
	$(BIN)/python tools/sync_sql.py --check
	$(BIN)/python tools/athena_rules.py
	@shopt -s nullglob; files=(statemachine/*.asl.json); \
	if (( $${#files[@]} )); then $(BIN)/statelint "$${files[@]}" && echo "statelint: $${#files[@]} definition(s) clean"; \
	else echo "statelint: no definitions yet"; fi

.PHONY: wheels
wheels: $(BIN)/.installed ## Check the image's lock installs as binary wheels with its hashes (py3.13, x86_64 + arm64)
	@for arch in x86_64 aarch64; do \
	  $(BIN)/python -m pip download --quiet --require-hashes --only-binary=:all: --implementation cp \
	    --python-version $(IMAGE_PYTHON) --platform manylinux_2_28_$$arch --platform manylinux2014_$$arch \
	    -r functions/requirements.txt -d build/wheels/$$arch 2>&1 | { grep -v 'is ignored: it is neither' || true; }; \
	  echo "wheels: $$arch resolves to binary wheels matching the lock's hashes"; \
	done

.PHONY: unit
unit: $(BIN)/.installed ## Fast tier only: unit tests, no moto server, no Spark
	$(BIN)/pytest tests/unit -q

.PHONY: pytest
pytest: $(BIN)/.installed
	$(BIN)/pytest -q -n 2 --dist loadgroup

.PHONY: image-test
image-test: $(BIN)/.installed ## sam build the image, sam local invoke each function with its event, check traces (Docker)
	tools/image/image-test.sh

.PHONY: test
test: lint template statelint wheels pytest image-test ## Everything CI runs (the README's test command)

.PHONY: demo
demo: $(BIN)/.installed ## Run the whole pipeline locally on embedded stand-ins (no AWS, no Docker); DEMO_ARGS=--offline
	$(BIN)/lakepipe demo $(DEMO_ARGS)

# BENCH_ARGS=--quick: 100 MB files, one run, no 3 GB run. Fails only on a correctness check, never on a missed target.
.PHONY: bench
bench: $(BIN)/.installed ## Benchmarks (bench/): issue 12's CSV->Parquet targets table, refined-layer scan bytes
	$(BIN)/python bench/csv_to_parquet.py $(BENCH_ARGS)
	$(BIN)/python bench/refined_scan.py

# The image is built for the template's Architecture (x86_64 unless ARCH=arm64: on an arm64 machine, or on x86_64
# with emulation, e.g. `docker run --privileged --rm tonistiigi/binfmt --install arm64`). Deploy with the same value.
ARCH ?=
BASE_IMAGE = $(shell sed -n 's/^FROM[[:space:]]*\([^[:space:]]*\).*/\1/p' functions/Dockerfile | head -n 1)

.PHONY: build
build: $(BIN)/.installed ## sam build the one image (needs Docker; ARCH=arm64 for Graviton)
	@if [ -n "$$(docker image inspect --format '{{ index .Config.Labels "lakepipe.stand-in-for" }}' $(BASE_IMAGE) 2>/dev/null)" ]; then \
	  echo "build: $(BASE_IMAGE) is the local stand-in (left by an interrupted make image-test); remove it: docker image rm $(BASE_IMAGE)"; \
	  exit 1; fi
	$(BIN)/sam build $(if $(ARCH),--parameter-overrides Architecture=$(ARCH))

.PHONY: deploy
deploy: $(BIN)/.installed ## sam deploy --config-env $(ENV) ALARM_EMAIL=you@example.com (AWS credentials; `make build` first)
	@overrides=$$($(BIN)/python tools/deploy_overrides.py --config-env $(or $(ENV),dev) --alarm-email "$(ALARM_EMAIL)") && \
	$(BIN)/sam deploy --config-env $(or $(ENV),dev) --parameter-overrides "$$overrides"

.PHONY: clean
clean: ## Remove build output (keeps the venvs)
	rm -rf build .aws-sam demo-output .pytest_cache .mypy_cache .ruff_cache
