# coopledger — `make demo` and `make test` are the two set-up commands (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
CATALOGS := $(wildcard payouts/translations/*/LC_MESSAGES/messages.po)

.PHONY: install system translations demo test lint soak clean

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

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
