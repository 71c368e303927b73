SHELL := /bin/bash
# brandlake: `make demo` runs the main job on the embedded stack, `make test` runs every test.
# Both create or update .venv first; when it is up to date that takes a second.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(BIN)/python
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0
export YOLO_CONFIG_DIR := $(CURDIR)/.brandlake/ultralytics
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1

.PHONY: install demo test test-fast lint format bench chaos services-up services-down clean chromium dashboard

# delta-spark, Spark's Kafka connector, hadoop-aws, Apache Kafka: fetched once by `brandlake
# jars`; every later run only reads their manifests (offline too)
install: $(STAMP)
	@$(BIN)/brandlake jars
	@# the sample broadcast's synthetic commentator (jobs/sample_media/soundtrack.py)
	@command -v espeak-ng >/dev/null || { echo "installing Debian's espeak-ng (the sample's voice)"; \
	  { apt-get install -y -qq --no-install-recommends espeak-ng \
	    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends espeak-ng; }; \
	  } >/dev/null 2>&1 || echo "could not install espeak-ng: the sample broadcast will be silent"; }

$(STAMP): setup.py dashboards/package-lock.json
	@command -v java >/dev/null || { echo "Java 17 is required (Spark runs on the JVM)"; exit 1; }
	@command -v npm >/dev/null || { echo "installing Debian's npm (the dashboard's hls.js comes from npm)"; \
	  apt-get install -y -qq --no-install-recommends npm >/dev/null 2>&1 \
	  || { echo "npm is required (the dashboard's hls.js): install Node.js and npm"; exit 1; }; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing brandlake and its pinned dependencies into $(VENV) (first time: a few minutes)"
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -m pip install --quiet -e '.[dev]' 2>&1 | grep -v "^WARNING: Location"; \
	  test $${PIPESTATUS[0]} -eq 0
	@# opencv-python (ultralytics needs the GUI build) loads libGL and GLib at import
	@$(BIN)/python -c "import cv2" 2>/dev/null || { echo "installing Debian's libgl1 and libglib2.0-0 (OpenCV loads them)"; \
	  apt-get install -y -qq --no-install-recommends libgl1 libglib2.0-0 >/dev/null 2>&1 \
	  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libgl1 libglib2.0-0; } >/dev/null 2>&1 \
	  || { echo "OpenCV cannot load libGL/GLib: install libgl1 and libglib2.0-0"; exit 1; }; }
	@npm ci --prefix dashboards --no-audit --no-fund --silent
	@touch $(STAMP)

demo: install
	$(BIN)/brandlake demo

test: install lint chromium
	$(BIN)/pytest

# The edit-test loop: no whole broadcasts through the brand detector, no long soaks.
test-fast: install lint
	$(BIN)/pytest -m "not champion and not slow"

# The dashboard's browser test drives Debian's Chromium; without it (and without root to install
# it) that one test is skipped and says why.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the dashboard's browser test"; \
	  { apt-get install -y -qq --no-install-recommends chromium \
	    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }; \
	  } >/dev/null 2>&1 || echo "could not install chromium: the browser test will be skipped"; }

dashboard: install
	$(BIN)/brandlake dashboard

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/pytest tests/perf -o python_files='bench_*.py' -s -p no:cacheprovider

# The chaos soak: CHAOS_FAULTS random faults on the live pipeline, then the lake compared with a
# fault-free run (tests/chaos/). A fresh seed each run; CHAOS_SEED=N replays one. `make test`
# runs the short version (5 faults, a fixed seed).
CHAOS_FAULTS ?= 20
chaos: install
	CHAOS_FAULTS=$(CHAOS_FAULTS) CHAOS_SEED=$${CHAOS_SEED:-$$RANDOM$$RANDOM} \
	  $(BIN)/pytest tests/chaos -s -p no:cacheprovider

services-up: install
	$(BIN)/brandlake services up

services-down: install
	$(BIN)/brandlake services down

clean:
	-$(BIN)/brandlake services down
	rm -rf .brandlake
