# mlstack — the two commands a newcomer needs are `make demo` and `make test`.
# Every target installs what it needs first (idempotent; a warm second run takes seconds).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := .tools/uv/bin/uv
MLSTACK := .venv/bin/mlstack
STACK ?= local
PROD ?= local-prod
# Offline Pulumi settings (PATH, file backend, passphrase, no downloads): see `mlstack shell-env`.
OFFLINE = eval "$$($(MLSTACK) shell-env)"
PULUMI_FLAGS := --skip-plugin-pre-install --non-interactive
# The demo applies what it shows: one program run per `up` instead of a preview run first.
UP_FLAGS := $(PULUMI_FLAGS) --skip-preview
MODEL := digits-cnn

.PHONY: help setup venv policy-pack pulumi azurite demo test lint bench clean

help:
	@echo "make demo   run the local lifecycle (sets everything up first)"
	@echo "make test   run every test (unit + integration with the real pulumi CLI and Azurite)"
	@echo "make lint   ruff + mypy --strict"
	@echo "make bench  benchmarks (not part of the tests)"
	@echo "make setup  install the toolchain only: venvs (uv), pulumi CLI (Go), Azurite (npm)"

setup: venv policy-pack pulumi azurite

$(UV):
	python3 -m venv .tools/uv
	.tools/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (CI images often do),
# Python would otherwise compile every module from source in every process — measured at
# over half of a no-op `pulumi preview` (each pulumi run starts the program and providers).
venv: $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	.venv/bin/python -m compileall -q src

# The policy pack's own environment (policy/uv.lock -> policy/.venv), apart from the project's.
policy-pack: $(UV)
	$(UV) sync --locked --quiet --compile-bytecode --project policy

pulumi:
	@bash tools/pulumi/build.sh

azurite:
	@bash tools/azurite/install.sh

demo: setup
	$(MLSTACK) local start
	.venv/bin/python training/prepare_data.py
	$(OFFLINE) && pulumi stack select --create $(STACK) --non-interactive
	@echo "== 1/6  pulumi up: workspace, data assets, environment"
	$(OFFLINE) && pulumi up --yes --stack $(STACK) $(UP_FLAGS)
	@echo "== 2/6  the digits pipeline: prep -> train -> evaluate (unchanged steps are reused)"
	$(MLSTACK) job run assets/jobs/pipeline.yaml --stack $(STACK) --output model=outputs/$(MODEL)
	@echo "== 3/6  pulumi up: the model version with its lineage, and the endpoint serving it"
	$(OFFLINE) && pulumi up --yes --stack $(STACK) $(UP_FLAGS)
	$(MLSTACK) lineage $(MODEL) --stack $(STACK)
	@echo "== 4/6  the endpoint answers: predictions beside the true labels"
	$(MLSTACK) endpoint invoke digits --images data/digits/test --count 8 --stack $(STACK)
	@echo "== 5/6  promotion $(STACK) -> $(PROD): a reviewable pin, then pulumi up"
	$(MLSTACK) promote $(MODEL) --from $(STACK) --to $(PROD)
	$(OFFLINE) && pulumi stack select --create $(PROD) --non-interactive
	$(OFFLINE) && pulumi up --yes --stack $(PROD) $(UP_FLAGS)
	$(OFFLINE) && pulumi stack select $(STACK) --non-interactive
	$(MLSTACK) endpoint invoke digits --images data/digits/test --count 8 --stack $(PROD)
	@echo "== 6/6  the promoted model's card: outputs/model-card.md"
	$(MLSTACK) model card $(MODEL) --stack $(PROD) --output outputs/model-card.md

test: setup
	.venv/bin/pytest

lint: venv
	.venv/bin/ruff check src tests training steps bench policy
	.venv/bin/ruff format --check src tests training steps bench policy
	.venv/bin/mypy

# The issue's size is 70,000 files: on Azurite's default (LokiJS) store that takes hours on
# 2 cores because Azurite slows as it fills; BENCH_ARGS="--sql" keeps Azurite's metadata in
# a private MariaDB (apt-get install mariadb-server) and takes ~45 minutes.
# BENCH_ARGS="--files 10000" gives the LokiJS table in ~10 minutes.
BENCH_ARGS ?=
bench: setup
	.venv/bin/python bench/data_assets.py $(BENCH_ARGS)
	.venv/bin/python bench/noop.py
	.venv/bin/python bench/endpoint.py

# Destroy the local stacks first: that stops their endpoint processes (which would
# otherwise outlive .mlstack/) and archives what they registered.
clean:
	-[ -x $(MLSTACK) ] && $(MLSTACK) local start >/dev/null && $(OFFLINE) && \
	  for s in $(STACK) $(PROD); do pulumi destroy --yes --stack $$s $(PULUMI_FLAGS) >/dev/null || true; done
	-[ -x $(MLSTACK) ] && $(MLSTACK) local stop
	rm -rf .mlstack
