# Corridor: `make run` serves the whole system on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# `make run` starts one room agent per demo room (a synthetic picture and tone) and one simulated VISCA camera per
# room (classrooms.agent.camera_sim); ROOM_AGENTS=0 to leave them out.
ROOM_AGENTS ?= 1
ROOM_TOKENS := var/room-tokens.json
# pytest-xdist workers for the parallel part of `make test` (most tests wait on I/O, so more than the cores).
TEST_WORKERS ?= 4
STAMP := $(VENV)/.installed
# Ralph, the learning record store the xAPI tests send statements to (tests/xapi), in a venv of its own: its pinned
# FastAPI and pydantic stay out of Corridor's.
RALPH_VENV ?= .venv-ralph
RALPH_STAMP := $(RALPH_VENV)/.installed

.PHONY: run run-cluster test install lrs system-packages lint typecheck bench migrate demo clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The SFU's native fan-out (streaming/sfu/native/fanout.c), built with the system C compiler; without one the
# command prints the line that adds it and the SFU forwards in Python.
NATIVE_FANOUT := streaming/sfu/native/libcorridor_fanout.so
$(NATIVE_FANOUT): streaming/sfu/native/fanout.c $(STAMP)
	$(BIN)/python -m streaming.sfu.native

install: $(STAMP) $(NATIVE_FANOUT)

$(RALPH_STAMP): Makefile
	test -x $(RALPH_VENV)/bin/python || $(PYTHON) -m venv $(RALPH_VENV)
	$(RALPH_VENV)/bin/python -m pip install --quiet --upgrade pip
	@# requests: Ralph's OIDC module imports it whatever the auth backend, and no extra brings it.
	$(RALPH_VENV)/bin/python -m pip install --quiet 'ralph-malph[backend-fs,cli,lrs]==5.1.0' 'requests>=2.32'
	touch $(RALPH_STAMP)

# The LRS for the xAPI tests; without it they are skipped, naming this target.
lrs: $(RALPH_STAMP)

# Not needed by `make run` or `make test`: the browser tests drive Debian's Chromium and the TURN
# tests a real coturn; without them those tests are skipped, naming this target.
system-packages:
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	else echo "system-packages: run as root, or install sudo"; exit 1; fi; \
	$$sudo apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium coturn redis-server

migrate: install
	mkdir -p var
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput

demo: migrate
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py load_demo --room-tokens $(ROOM_TOKENS)

run: demo
	@echo "Corridor on http://127.0.0.1:$(PORT)/  (admin: http://127.0.0.1:$(PORT)/admin/)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py run_scheduler & \
	if [ "$(ROOM_AGENTS)" = 1 ]; then \
	  for room in $$($(BIN)/python -c 'import json; print(*(r["slug"] for r in json.load(open("$(ROOM_TOKENS)"))["rooms"]))'); do \
	    $(BIN)/python -m classrooms.agent --server http://127.0.0.1:$(PORT) --room $$room --token-file $(ROOM_TOKENS) & \
	  done; \
	  for port in $$($(BIN)/python -c 'import json; print(*(r["visca_port"] for r in json.load(open("$(ROOM_TOKENS)"))["rooms"] if "visca_port" in r))'); do \
	    $(BIN)/python -m classrooms.agent.camera_sim --port $$port & \
	  done; \
	fi; \
	DEBUG=$${DEBUG:-true} $(BIN)/python -m lms.serve --host 127.0.0.1 --port $(PORT)

# The production topology on this machine, no Docker: two app processes behind a small balancer, an SFU node per
# city, a Celery worker and beat, coturn (if installed) and the demo's rooms, on PostgreSQL and Redis (lms/cluster.py).
run-cluster: install
	mkdir -p var
	DEBUG=$${DEBUG:-true} $(BIN)/python -m lms.cluster --port $(PORT) --room-tokens $(ROOM_TOKENS) \
	  $$([ "$(ROOM_AGENTS)" = 1 ] || echo --no-agents)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test: install lrs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=lms.settings.test
	@# (5: none selected, when CORRIDOR_ONLY_TESTS leaves no parallel test: see .ci/run)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	@# Then, alone, the tests that measure media timing or start browsers, servers and workers (5: none selected).
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: install
	$(BIN)/python bench/catalogue.py
	$(BIN)/python bench/sfu.py --skip-baseline --class
	@# Two SFU nodes on Redis through an impaired link: only with REDIS_URL, as the nodes need it.
	@if [ -n "$$REDIS_URL" ]; then $(BIN)/python bench/cascade.py; else echo "bench/cascade.py skipped: set REDIS_URL"; fi

clean:
	rm -rf $(VENV) var
