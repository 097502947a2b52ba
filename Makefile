# coopledger — `make demo` and `make test` are the two set-up commands (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
CATALOGS := $(wildcard payouts/translations/*/LC_MESSAGES/messages.po)

.PHONY: install system translations demo test test-quick lint soak bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

system:
	@bash scripts/system-deps.sh

# .po -> .mo (the .mo files are built here, never committed; scripts/i18n.sh has extract/check)
translations: $(STAMP)
	@if [ -n "$(CATALOGS)" ]; then $(BIN)/pybabel -q compile -d payouts/translations; fi

install: system $(STAMP) translations

demo: install
	$(BIN)/coopledger init
	$(BIN)/coopledger demo
	@echo "Serving on http://127.0.0.1:5000 (Ctrl-C to stop)"
	COOP_COOKIE_SECURE=0 $(BIN)/coopledger serve --host 127.0.0.1 --port 5000

# the test files spread over every core (pytest-xdist; a file's tests stay together in one worker, each worker
# with a database of its own); PYTEST_WORKERS=0 runs them in this one process
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --dist loadfile

test: install
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# while working: everything but the dozen tests marked slow (Chromium, the 339 demo PDFs, SIGKILL trials,
# Schemathesis, concurrent writers, hostile renders); `make test` and CI run them all
test-quick: install
	$(BIN)/pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

# county-scale benchmark (issue 7): 10,000 households, 1,000,000 deliveries and transactions; about an hour on
# 2 quiet cores. Writes bench/results.json and bench/results.md. Smaller: make bench BENCH_ARGS="--households 500
# --deliveries 20000 --transactions 20000 --duration 5"; one section: BENCH_ARGS="--only web"
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# reliability soak (issue 6): 100 SIGKILL trials each of `coopledger import` and `run post` (bench/soak.py), and
# the concurrent-writers test at full size (SQLite 4×250; PostgreSQL 16×500), and 20,000 schemathesis cases. With TEST_DATABASE_URL (a
# scratch PostgreSQL database, as for make test) the same runs on PostgreSQL too. SOAK_TRIALS=N to change 100.
SOAK_TRIALS ?= 100
soak: install translations
	$(BIN)/python bench/soak.py --import-trials $(SOAK_TRIALS) --post-trials $(SOAK_TRIALS)
	env -u TEST_DATABASE_URL COOP_CONC_ENTRIES=250 $(BIN)/pytest -q -p no:cacheprovider tests/ledger/test_concurrency.py
	SCHEMATHESIS_CASES=20000 $(BIN)/pytest -q -s -p no:cacheprovider tests/web/test_schemathesis.py -k openapi_document
	@if [ -n "$(TEST_DATABASE_URL)" ]; then \
	  $(BIN)/python bench/soak.py --db "$(TEST_DATABASE_URL)" --import-trials $(SOAK_TRIALS) --post-trials $(SOAK_TRIALS) && \
	  $(BIN)/pytest -q -p no:cacheprovider tests/ledger/test_concurrency.py; fi

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
