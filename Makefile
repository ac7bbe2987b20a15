# The map of every product. `make` (= `make report`) builds the article; `make test` runs the tests.
# Both create the environment (.venv, Python 3.11) and install everything on first use.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
BACKEND ?= local
# Extra arguments: make report ARGS="--only 06 --force"; make test ARGS="-k catalog"
ARGS    ?=
PORT    ?= 8787
# JupyterLab refuses to run as root unless told (containers, CI machines)
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.DEFAULT_GOAL := report
.PHONY: report test env lab serve evals record bench bench-ladder student clean distclean help

help:  ## list the targets and the chapters (from notebooks/chapters.toml)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
	@echo
	@$(PY) -m workbench.chapters help 2>/dev/null || echo "chapters: see notebooks/chapters.toml (make env first to list them here)"

env: $(VENV)/.installed  ## create .venv and install the workbench with everything it needs
	@# the model files live inside .venv: assemble them again if they went missing or changed
	@$(PY) -m workbench.assets check --quiet >/dev/null || $(PY) -m workbench.assets install
	@# Debian's chromium for the browser test (tests/test_browser.py): apt-get as root (CI), else one message
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser test (apt-get)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	      || { echo "make: apt-get could not install chromium"; exit 1; }; \
	  else \
	    echo "make: the browser test needs Debian's chromium and will be skipped: run 'sudo apt-get install chromium'"; \
	  fi; }

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "make: Python 3.11 is required, $(PYTHON) is " + sys.version.split()[0] + "; pass PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the workbench and its pinned dependencies into $(VENV) (first time: a few minutes)..."
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c 'import workbench, openai, anthropic, google.genai, xllamacpp, papermill' || (echo "make: the install failed; see the pip output above" && exit 1)
	$(PY) -m workbench.assets install
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	@touch $@

report: env  ## execute every notebook, regenerate figures/, write build/report.html and build/report.pdf
	$(PY) -m workbench.report --backend $(BACKEND) $(ARGS)

test: env  ## run the test suite (what CI runs)
	$(PY) -m pytest $(ARGS)

lab: env  ## open JupyterLab on the notebooks with the project's kernel (jupyterlab comes with make env)
	$(PY) -m ipykernel install --user --name workbench --display-name "Python (workbench)"
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/

serve: env  ## run the local provider in the foreground on 127.0.0.1:$(PORT)
	$(PY) -m workbench.local --port $(PORT)

evals: env  ## run the benchmark harness: make evals ARGS="--tasks gsm8k --models smollm2-135m-instruct --limit 20" (BATCH=1: batch APIs)
	$(PY) -m workbench.evals run --backend $(BACKEND) $(if $(filter 1,$(BATCH)),--batch,) $(ARGS)

record: env  ## run and record it as an archive (data/runs/ID/): make record ARGS="--tasks gsm8k --models smollm2-135m-instruct --limit 20 --archive ID"
	$(PY) -m workbench.evals record --backend $(BACKEND) $(ARGS)

bench: env  ## benchmarks of the harness itself (overhead, concurrency, TTFT fidelity, resilience)
	$(PY) benchmarks/harness.py $(ARGS)

bench-ladder: env  ## benchmarks of the open-model ladder (decode vs bandwidth limit, slots, recording time)
	$(PY) benchmarks/ladder.py $(ARGS)

student: env  ## write build/student/ (chapters without solutions or outputs) and build/teacher/ (solutions kept)
	$(PY) -m workbench.teaching copies

clean:  ## remove build products (keeps the environment and the results store)
	rm -rf build figures/*.png figures/*.svg

distclean: clean  ## also remove the environment and the results store
	rm -rf $(VENV) results
