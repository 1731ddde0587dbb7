# kxbtc developer entry points. `make test` needs nothing but Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck unit browser demo sim bench bench-baseline bench-replay bench-memory soak clean lock audit fuzz

LOCK   := requirements/test.lock
TOOLS  := .venv-tools

# The test environment is installed from the lock file only: exact versions, every file checked against
# its hash (--require-hashes), and kxbtc itself without resolving anything further.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Tools that write the lock and audit it; kept out of the test environment.
$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet 'pip-tools>=7.4' 'pip-audit>=2.7'
	touch $@

# Re-resolve the lock after a change to the dependencies in pyproject.toml (or to requirements/build.in).
lock: $(TOOLS)/.installed
	$(TOOLS)/bin/pip-compile --quiet --extra test --generate-hashes --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml requirements/build.in

# Known vulnerabilities in the locked versions (PyPI's advisory data; needs pypi.org). --strict fails
# when a package could not be audited instead of passing over it.
audit: $(TOOLS)/.installed
	$(TOOLS)/bin/pip-audit --requirement $(LOCK) --require-hashes --disable-pip --strict

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck browser unit

# Real headless Chromium for the tearsheet test (tests/integration/test_report_demo.py): installed with apt-get
# when missing and running as root; otherwise, or if that fails, the test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } || \
	  echo "make browser: no Chromium (not root, no apt-get, or the install failed); its test will skip"

# The main job: run kxbtc against its built-in simulator (no keys, no network).
demo: $(STAMP)
	$(BIN)/kxbtc demo

sim: $(STAMP)
	$(BIN)/kxbtc sim serve

# Every speed figure in one table (median, p99) and bench.json: book delta, tick to order on the wire
# (engine against `kxbtc sim serve` on loopback, 60 s; `kxbtc bench --pin 0,1` pins them to two cores),
# signing, fair value, replay, simulator orders, resident memory (engine_memory.json from `make bench-memory`,
# and soak.json from `make soak`, where they exist). CI checks a short version against
# benchmarks/baseline.json (tests/unit/test_bench_baseline.py); `make bench-baseline` rewrites it.
bench: $(STAMP)
	$(BIN)/kxbtc bench --json-out bench.json

# The engine against the simulator for 24 simulated hours, all three series, every fault on, 4 kills with
# restarts; one table of faults and invariants (exit 1 if one is broken) and soak.json (memory per hour).
# About an hour of wall time on 2 busy cores. tests/integration/test_soak.py is the bounded version.
soak: $(STAMP)
	$(BIN)/python -m kxbtc.bench.soak --hours 24 --kills 4 --json-out soak.json

# The engine's own resident memory each simulated hour for 24 hours of all three series, measured the way
# a trader runs it: `kxbtc sim serve --speed 60` and `kxbtc run --env sim` as two processes (about 25
# minutes). engine_memory.json feeds `kxbtc bench`'s memory rows. MEMORY_CORES=1 pins both to core 1.
MEMORY_CORES ?=
bench-memory: $(STAMP)
	$(BIN)/python -m kxbtc.bench.engine_memory --hours 24 --speed 60 --json-out engine_memory.json \
	  $(if $(MEMORY_CORES),--cores $(MEMORY_CORES))

bench-baseline: $(STAMP)
	$(BIN)/python benchmarks/update_baseline.py

# Recorded events per second through the core (../shared/data/kalshi_l2_2026-05; skips without it).
# One day file by default, twice (the default config, and fair_value with research/wide.toml): about
# half a minute each on an idle core. BENCH_REPLAY=<folder or day file> to choose.
BENCH_REPLAY ?= ../shared/data/kalshi_l2_2026-05/kalshi_ws_2026-05-13.jsonl.gz
bench-replay: $(STAMP)
	$(BIN)/python benchmarks/bench_replay.py $(BENCH_REPLAY)

# The fuzz tests (tests/fuzz) with FUZZ_EXAMPLES random examples per property (make test runs each
# with 60 fixed ones). A failure prints the smallest input found; fix it and add a regression test.
FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	KXBTC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider tests/fuzz

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache

# The fair-value strategy's edge over many simulated markets (a few minutes): with the makers
# mispricing, then honest ones. Breakers opened wide so a drawdown halt does not end a run early.
.PHONY: strategy-report
strategy-report: $(STAMP)
	printf '[risk]\ndaily_loss_pct = 50\nmax_drawdown_pct = 50\n' > $(VENV)/strategy-report.toml
	$(BIN)/kxbtc backtest --config $(VENV)/strategy-report.toml --markets 200 --seed 1 --seed 2 --seed 3 --seed 4 --mispricing 0.06
	$(BIN)/kxbtc backtest --config $(VENV)/strategy-report.toml --markets 200 --seed 1 --seed 2 --seed 3 --seed 4 --mispricing 0

# docs/RESEARCH.md's table: every strategy idea replayed on the real recordings at 0, 50 and 250 ms,
# in-sample before 2026-05-13T15:00Z beside out-of-sample from it (about 18 minutes on one core).
.PHONY: research
research: $(STAMP)
	$(BIN)/kxbtc sweep ../shared/data/kalshi_l2_2026-05 --strategy fair_value --strategy market_anchored \
	  --strategy index_lead --strategy imbalance --strategy passive_quote --config research/wide.toml --jobs 1
	$(BIN)/kxbtc score ../shared/data/kalshi_l2_2026-05
