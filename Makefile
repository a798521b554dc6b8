# The README's two commands: `make demo` builds the sample issue, `make test` runs the tests.
# Each creates .venv and installs what it needs; nothing has to be installed by hand first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The reference MJML validator (npm package mjml) that the tests run the templates' output through.
NODE_STAMP := tests/node/node_modules/.installed

.PHONY: demo test test-fast lint format bench golden catalogs wheel screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(STAMP)
	$(BIN)/digest build --out issues
	@echo "index.html is the email, digest.txt its plain-text part, manifest.json why each story was picked."

test: $(STAMP) $(NODE_STAMP) /usr/bin/chromium /usr/sbin/dovecot /usr/bin/spamassassin
	$(BIN)/pytest

# The tests without the slow ones (a wheel, Chromium, Dovecot, SpamAssassin, a DNS server, node, the whole
# corpus, fresh interpreters):
# for the edit-test loop; make test runs everything, as CI does.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check digest tests bench
	$(BIN)/ruff format --check digest tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix digest tests bench
	$(BIN)/ruff format digest tests bench

bench: $(STAMP) /usr/bin/valgrind
	$(BIN)/python bench/run.py

# Rewrites tests/golden/ from the current code; review the diff before committing it.
golden: $(STAMP)
	$(BIN)/pytest tests/test_golden.py --update-golden -q
	git diff --stat -- tests/golden

# The templates' words: extract them into templates/locale/digest.pot, and bring every language's
# catalog up to date (new messages arrive empty, and a test fails until they are translated).
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F templates/locale/babel.cfg -o templates/locale/digest.pot --no-location --omit-header --sort-output -k _ .
	$(BIN)/pybabel update -i templates/locale/digest.pot -d templates/locale -D digest --no-wrap --ignore-obsolete --ignore-pot-creation-date

# Debian's Chromium for the browser tests and screenshots (never a browser download of its own).
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null

# valgrind's callgrind counts the instructions of a cold build for `make bench`: the same on every run.
/usr/bin/valgrind:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind > /dev/null

# Debian's Dovecot, the IMAP server the feedback mailbox tests run (on a port and folder of their own).
/usr/sbin/dovecot:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd > /dev/null

# Debian's SpamAssassin with its shipped rules: `digest check --deliverability` scores a copy with
# them (local rules only), and a test holds the sample's personal copy at 0.0.
/usr/bin/spamassassin:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin > /dev/null

# The sample issue at 600 and 375 px, light and dark, in build/screenshots/: for people to look at.
screenshots: $(STAMP) /usr/bin/chromium
	$(BIN)/python -m tests.tools.screenshots build/screenshots

wheel: $(STAMP)
	$(BIN)/python -m build --wheel --outdir dist

clean:
	rm -rf $(VENV) dist build issues .digest .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
