# Vantage. `make run` and `make test` set up .venv themselves and touch
# nothing outside the checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PIP    := $(BIN)/pip --no-cache-dir --disable-pip-version-check -q

.PHONY: run test lint proto bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "python3 -m venv failed: on Debian, apt-get install python3-venv"; exit 1; }
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)  ## collector + 3 agents + demo target on loopback; Ctrl-C stops
	$(BIN)/python -m deploy.run_local

test: $(STAMP)  ## the whole suite, real Prometheus/Alertmanager/knot/nginx included
	@mkdir -p .tmp
	$(BIN)/pytest --basetemp=$(CURDIR)/.tmp/pytest

lint: $(STAMP)  ## ruff (format + lint) and mypy --strict on our code
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy agent collector common cli deploy bench tests

proto: $(STAMP)  ## regenerate proto/vantage/v1 (generated code is committed)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m grpc_tools.protoc -Iproto \
	  --python_out=proto --grpc_python_out=proto --mypy_out=proto --mypy_grpc_out=proto \
	  proto/vantage/v1/vantage.proto

bench: $(STAMP)  ## benchmarks: figures and ratios against blackbox_exporter
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .state .tmp .mypy_cache .ruff_cache .pytest_cache
