# mlstack — the two commands a newcomer needs are `make demo` and `make test`.
# Every target installs what it needs first (idempotent; a warm second run takes seconds).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := .tools/uv/bin/uv
MLSTACK := .venv/bin/mlstack
STACK ?= local
# Offline Pulumi settings (PATH, file backend, passphrase, no downloads): see `mlstack env`.
OFFLINE = eval "$$($(MLSTACK) env)"
PULUMI_FLAGS := --skip-plugin-pre-install --non-interactive
MODEL := digits-cnn
TRAIN_ARGS := --stack $(STACK) --model $(MODEL) --environment digits-env@latest \
	--train digits-train@latest --val digits-val@latest --test digits-test@latest

.PHONY: help setup venv pulumi azurite demo test lint bench clean

help:
	@echo "make demo   run the local lifecycle (sets everything up first)"
	@echo "make test   run every test (unit + integration with the real pulumi CLI and Azurite)"
	@echo "make lint   ruff + mypy --strict"
	@echo "make bench  benchmarks (not part of the tests)"
	@echo "make setup  install the toolchain only: venv (uv), pulumi CLI (Go), Azurite (npm)"

setup: venv pulumi azurite

$(UV):
	python3 -m venv .tools/uv
	.tools/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

venv: $(UV)
	$(UV) sync --locked --quiet

pulumi:
	@bash tools/pulumi/build.sh

azurite:
	@bash tools/azurite/install.sh

demo: setup
	$(MLSTACK) local start
	.venv/bin/python training/prepare_data.py
	$(OFFLINE) && pulumi stack select --create $(STACK) --non-interactive
	@echo "== 1/3  pulumi up: workspace, data assets, environment"
	$(OFFLINE) && pulumi up --yes --stack $(STACK) $(PULUMI_FLAGS)
	@echo "== 2/3  training on the registered data (skipped when already current)"
	.venv/bin/python training/train.py $(TRAIN_ARGS) --skip-if-current
	@echo "== 3/3  pulumi up: the model version, with its lineage"
	$(OFFLINE) && pulumi up --yes --stack $(STACK) $(PULUMI_FLAGS)
	$(MLSTACK) lineage $(MODEL) --stack $(STACK)

test: setup
	.venv/bin/pytest

lint: venv
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
	.venv/bin/mypy

bench: setup
	@echo "no benchmarks yet"

clean:
	-$(MLSTACK) local stop
	rm -rf .mlstack
