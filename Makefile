# Hotline: `make run` starts a demo server, `make test` runs lint and the whole test suite.
# Needs only Python 3.11+ and make; Debian packages are installed on demand (root or sudo).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Debian packages by purpose: espeak-ng speaks prompts; sipp, baresip, sox and Asterisk's
# recorded prompts (real telephone speech) are test peers and test data; chromium runs the
# agent desktop and flow editor tests (Playwright, real WebRTC audio); pocketsphinx-testdata
# is wideband human speech that asr/tools/train_bandwidth.py fits the bandwidth extension on.
DEB_RUN_PACKAGES  := espeak-ng
DEB_TEST_PACKAGES := $(DEB_RUN_PACKAGES) sip-tester baresip-core sox asterisk-core-sounds-en-wav chromium pocketsphinx-testdata

# Extra options for `make run`, e.g. make run HOTLINE_ARGS="--http-port 8081"
HOTLINE_ARGS ?=

# root runs apt-get itself; anyone else needs sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint deps deps-run deps-test venv-deps apt-install venv clean

run: deps-run $(STAMP)
	$(BIN)/hotline serve --demo $(HOTLINE_ARGS)

test: deps-test $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

deps: deps-run deps-test

deps-run: venv-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(DEB_RUN_PACKAGES)"

deps-test: venv-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(DEB_TEST_PACKAGES)"

# Debian's python3 lacks ensurepip (so `python3 -m venv` fails) until python3-venv is installed.
venv-deps:
	@test -x $(BIN)/python || $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
		$(MAKE) --no-print-directory apt-install PACKAGES="python3-venv"

# Install those of $(PACKAGES) that are missing; apt-get update only when something is.
apt-install:
	@if ! command -v dpkg >/dev/null 2>&1; then \
		[ -z "$(strip $(PACKAGES))" ] || echo "Not Debian: make sure these are installed: $(PACKAGES)"; \
		exit 0; \
	fi; \
	missing=""; \
	for pkg in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'ok installed' || \
			missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "Please install:$$missing (no apt-get here)" >&2; exit 1; \
		fi; \
		if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null 2>&1; then \
			echo "Please install as root:$$missing" >&2; exit 1; \
		fi; \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml | venv-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
