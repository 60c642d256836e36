# LegalTV command runner. `make run` and `make test` work on a fresh Debian machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= ./var
APT_PACKAGES := chromium fonts-noto-cjk fonts-noto-core ffmpeg nginx postgresql
BENCH_APT_PACKAGES := wrk

.PHONY: install system-deps apt-install run test test-sqlite test-pg lint format bench bench-province clean i18n

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

## system-deps: Chromium, CJK/Mongolian fonts, ffmpeg and nginx (tests) from Debian packages, when missing
system-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

## apt-install: the Debian PACKAGES not yet installed
apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

install: system-deps $(VENV)/.installed

run: install
	$(BIN)/legaltv serve --demo --allow-unsigned --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

## test: the whole suite on SQLite (`test-sqlite`), then again on PostgreSQL (`test-pg`); a
## failure in either fails it (README, "Tests")
test: test-sqlite test-pg

## test-sqlite: the whole suite on SQLite, browser tests included; the PostgreSQL and multi-node
## tests start their own throwaway cluster
test-sqlite: install
	$(BIN)/python -m pytest

## test-pg: the whole suite on a throwaway PostgreSQL cluster the tests start (initdb + pg_ctl
## from Debian's postgresql package, in a temp dir); the browser tests run once, on SQLite
test-pg: install
	LEGALTV_TEST_BACKEND=postgresql $(BIN)/python -m pytest --ignore=tests/browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_APT_PACKAGES)"
	$(BIN)/python -m bench.run_all

## bench-province: opt-in, ~25 min: the Inner Mongolia tree, 5 million boxes on a throwaway PostgreSQL, the coverage API timed (bench/province_bench.py)
bench-province: install
	$(BIN)/python -m bench.province_bench --write

clean:
	rm -rf $(VENV) var .pytest_cache test-artifacts

## i18n: refresh the message template tv_ui/locale/messages.pot (and update any catalogs)
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output -o tv_ui/locale/messages.pot .
	@for po in tv_ui/locale/*/LC_MESSAGES/messages.po; do [ -f "$$po" ] || continue; \
	  loc=$$(basename $$(dirname $$(dirname "$$po"))); \
	  $(BIN)/pybabel update --no-fuzzy-matching -l "$$loc" -i tv_ui/locale/messages.pot -o "$$po" && \
	  $(BIN)/pybabel compile -i "$$po" -o "$${po%.po}.mo"; done
