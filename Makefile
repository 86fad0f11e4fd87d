# DataSpoc: `make demo` runs the whole flow on a local bucket; `make test` runs every test.
# Both install what they need (uv is bootstrapped with pip into .tools/ when missing).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PACKAGES := dataspoc-pipe dataspoc-lens dataspoc-ml
PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# Precompiled bytecode keeps every CLI start-up fast even where PYTHONDONTWRITEBYTECODE is set.
export UV_COMPILE_BYTECODE := 1
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: azurite system-deps help demo test test-fast test-pipe test-lens test-ml test-e2e sync sync-dev check contract-sync contract-check docs docs-check bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing it into .tools/ with pip" >&2
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

# --inexact: a developer's test and lint tools (sync-dev) stay installed across `make demo` or `make docs`
sync: $(UV) ## Install the three tools from their locks, with what they need to run (nothing else on a fresh clone)
	@for p in $(PACKAGES); do \
		echo "sync $$p" >&2; $(UV) sync --locked --quiet --inexact --no-dev --project $$p; \
	done

sync-dev: $(UV) ## Install the three tools with every storage backend, and the examples, with their test and lint tools (dev groups)
	@for p in $(PACKAGES); do \
		echo "sync $$p (dev, s3 gcs azure)" >&2; \
		$(UV) sync --locked --quiet --extra s3 --extra gcs --extra azure --project $$p; \
	done
	@echo "sync examples (dev)" >&2; $(UV) sync --locked --quiet --project examples

check: sync-dev ## Lint, format check and type check the three packages (ruff, mypy)
	@for p in $(PACKAGES); do \
		echo "check $$p" >&2; \
		(cd $$p && $(UV) run --locked --no-sync ruff check --quiet src tests \
			&& $(UV) run --locked --no-sync ruff format --check --quiet src tests \
			&& $(UV) run --locked --no-sync mypy) || exit 1; \
	done

demo: sync ## Run pipe -> lens -> ml -> lens on a local bucket under demo/
	bash examples/demo.sh

system-deps: ## Install what the tests need from Debian's packages when missing (PostgreSQL, Chromium)
	bash tools/system-deps.sh

contract-sync: ## Copy contract/schemas into every package
	$(PYTHON) contract/tools/contract_sync.py sync

contract-check: ## Fail when a package's vendored schemas drift from contract/schemas
	$(PYTHON) contract/tools/contract_sync.py check

docs: sync ## Regenerate docs/cli-reference.md from the CLIs' --help
	$(PYTHON) docs/cli_reference.py

docs-check: sync ## Fail when docs/cli-reference.md no longer matches the CLIs
	$(PYTHON) docs/cli_reference.py --check

RESULTS := $(CURDIR)/.test-results

PYTEST := pytest -q -p no:cacheprovider -n auto

test-pipe test-lens: system-deps

test-pipe test-lens test-ml: test-%: $(UV)
	$(UV) sync --locked --quiet --project dataspoc-$*
	cd dataspoc-$* && $(UV) run --locked --no-sync $(PYTEST) --junitxml=$(RESULTS)/$*.xml

azurite: ## Install Azurite (npm), the Azure Storage emulator the end-to-end tests start
	bash tools/azurite.sh

test-e2e: azurite ## The end-to-end flow through the three installed CLIs on a folder, S3, Azure and GCS emulators; the README's tour
	@# again here, not as a prerequisite: test-pipe/-lens/-ml re-sync the tools without the storage extras
	$(MAKE) --no-print-directory sync-dev
	cd examples && UV=$(UV) $(UV) run --locked --no-sync $(PYTEST) --junitxml=$(RESULTS)/e2e.xml

test-fast: contract-check test-pipe test-lens test-ml ## Contract check and each package's tests

test: contract-check check docs-check test-pipe test-lens test-ml test-e2e ## Everything CI runs
	@$(PYTHON) .ci/summary.py $(RESULTS)/pipe.xml $(RESULTS)/lens.xml $(RESULTS)/ml.xml $(RESULTS)/e2e.xml

bench: sync system-deps ## Speed and memory against baselines measured in the same run (not part of test)
	$(UV) sync --locked --quiet --no-dev --extra postgres --project dataspoc-pipe
	$(UV) sync --locked --quiet --project bench
	cd bench && $(UV) run --locked --no-sync python ingest_csv.py
	cd bench && $(UV) run --locked --no-sync python ingest_jsonl.py
	cd bench && UV=$(UV) $(UV) run --locked --no-sync python ingest_singer.py
	cd bench && $(UV) run --locked --no-sync python ingest_postgres.py
	cd bench && $(UV) run --locked --no-sync python query_lens.py
	cd bench && $(UV) run --locked --no-sync python inspect_lens.py
	cd bench && $(UV) run --locked --no-sync python ml_train.py
	cd bench && $(UV) run --locked --no-sync python ml_predict.py

clean: ## Remove environments, the demo bucket and bench data
	rm -rf .tools demo bench/.work */.venv .test-results tools/azurite/node_modules
