# The two commands in the README: `make run` and `make test`. Both set up .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test redis-server toml-suite test-stress lint snapshots bench clean

# The TOML conformance suite (BurntSushi's toml-test) for tests/unit/config/test_toml_conformance.py,
# from Debian's package rather than copied into this repository.
TOML_SUITE := /usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests
TOML_SUITE_PKG := golang-github-burntsushi-toml-dev

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

## run: set up, create ./incoming and ./uploads, open the dashboard on them
run: $(STAMP)
	mkdir -p incoming uploads
	$(BIN)/obtui ./incoming ./uploads

## headless: the same engine without the terminal UI
headless: $(STAMP)
	mkdir -p incoming uploads
	$(BIN)/obtui --headless ./incoming ./uploads

## test: set up and run the whole test suite (quick reliability runs included)
test: $(STAMP) redis-server toml-suite
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

## redis-server: the cluster tests need Debian's redis-server; install it when missing and we can
redis-server:
	@command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo apt-get install -y -qq redis-server; \
	  else echo "make: redis-server is missing and cannot be installed here (not root, no sudo)."; \
	    echo "  Install it:  sudo apt-get install -y redis-server   (the cluster tests need it;"; \
	    echo "  they fail under CI=true without it and are skipped otherwise)"; \
	    if [ -n "$$CI" ]; then exit 1; fi; fi; }

## toml-suite: the TOML conformance files (Debian's golang-github-burntsushi-toml-dev); installed
## when missing and we can; the test skips without them, and fails under CI=true
toml-suite:
	@test -d $(TOML_SUITE) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq $(TOML_SUITE_PKG) >/dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq $(TOML_SUITE_PKG); }; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo apt-get install -y -qq $(TOML_SUITE_PKG); \
	  else echo "make: $(TOML_SUITE_PKG) is missing and cannot be installed here (not root, no sudo);"; \
	    echo "  the TOML conformance test skips (sudo apt-get install -y $(TOML_SUITE_PKG))"; \
	    if [ -n "$$CI" ]; then exit 1; fi; fi; }

## test-stress: the full-size reliability suite (100k burst, crash loops); up to 20 minutes
test-stress: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m stress tests/reliability

lint: $(STAMP)
	$(BIN)/ruff check obtui tests bench
	$(BIN)/ruff format --check obtui tests bench
	$(BIN)/mypy obtui
	$(BIN)/lint-imports --no-logo --no-cache

snapshots: $(STAMP)
	$(BIN)/python -m pytest -q tests/tui --snapshot-update

bench: $(STAMP)
	$(BIN)/python bench/burst.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache
