# landeff: two commands set up everything on a fresh machine.
#   make demo   creates .venv, installs landeff and runs the demo park -> maps/demo.html, out/demo/
#   make test   installs what the tests need (Python extras, Chromium, a CJK font, PostGIS,
#               Leaflet assets from npm) and runs pytest
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := chromium fonts-noto-cjk postgresql postgresql-15-postgis-3

.PHONY: demo test bench lint system-deps clean

$(VENV)/.core-stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.test-stamp: $(VENV)/.core-stamp pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.core-stamp
	$(VENV)/bin/landeff demo --out out/demo --map maps/demo.html

# Debian packages the tests need; installed once, skipped when present.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

test: $(VENV)/.test-stamp system-deps node_modules/.stamp
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-stamp
	$(PY) benchmarks/run.py $(if $(SIZES),--sizes $(SIZES),)

lint: $(VENV)/.test-stamp
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/mypy src

clean:
	rm -rf $(VENV) out node_modules dist build
