# seqkit developer entry points. `make test` and `make demo` set everything up themselves.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DEPS_STAMP := $(VENV)/.seqkit-deps
INSTALL_STAMP := $(VENV)/.seqkit-install
NATIVE_SOURCES := CMakeLists.txt $(shell find native -type f 2>/dev/null)
PYTEST_ARGS ?=
NATIVE_TEST_DIR := build/native-tests

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all setup test lint typecheck pytest bench demo clean test-native test-native-asan

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)

# Third-party dependencies: reinstalled only when pyproject.toml or the torch pin changes.
$(DEPS_STAMP): pyproject.toml Makefile | $(PY)
	$(PIP) install --quiet --upgrade "pip>=24" "setuptools>=70" wheel
	$(PIP) install --quiet "torch==$(TORCH_VERSION)" "scikit-build-core>=0.10" "nanobind>=2.0"
	$(PY) scripts/project_requirements.py test dev plot tensorboard > $(VENV)/.requirements.txt
	$(PIP) install --quiet "torch==$(TORCH_VERSION)" -r $(VENV)/.requirements.txt
	touch $@

# The project itself (editable) with its native extension; the CMake build dir under build/
# is kept, so a change to native/ recompiles only what changed.
$(INSTALL_STAMP): $(DEPS_STAMP) $(NATIVE_SOURCES)
	$(PIP) install --quiet --no-build-isolation --no-deps -e .
	touch $@

setup: $(INSTALL_STAMP)

lint: setup
	$(PY) -m ruff check src tests benchmarks examples scripts
	$(PY) -m ruff format --check src tests benchmarks examples scripts
	$(PY) -m mypy

typecheck: setup
	$(PY) -m mypy

pytest: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Lint, then the C++ tests of the native core, then the Python suite.
test: lint test-native pytest

bench: setup
	$(PY) benchmarks/run_all.py

demo: setup
	$(PY) scripts/demo.py

# C++ tests (native/tests) in Release, linked against the seqkit_core static library; the
# build directory is kept, so a rerun recompiles only what changed.
test-native:
	cmake -S native/tests -B $(NATIVE_TEST_DIR) -DCMAKE_BUILD_TYPE=Release > /dev/null
	cmake --build $(NATIVE_TEST_DIR) -j 2
	ctest --test-dir $(NATIVE_TEST_DIR) --output-on-failure

test-native-asan:
	cmake -S native/tests -B build/asan -DSEQKIT_SANITIZERS=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build/asan -j 2
	ctest --test-dir build/asan --output-on-failure

clean:
	rm -rf build $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
