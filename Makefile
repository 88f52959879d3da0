# fanzha — set-up and everyday commands. Each target makes its own virtual environment.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench serve model clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fanzha demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m benchmarks

model: $(STAMP)
	$(BIN)/python -m fanzha.intake.train

serve: $(STAMP)
	$(BIN)/fanzha serve

clean:
	rm -rf $(VENV) .fanzha build *.egg-info src/*.egg-info
