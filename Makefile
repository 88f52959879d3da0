# fanzha — set-up and everyday commands. Each target makes its own virtual environment.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench serve model clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fanzha demo

# The console's browser test drives Debian's Chromium (with a CJK font for the Chinese pages).
browser:
	@test -x /usr/bin/chromium || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium fonts-wqy-zenhei >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium fonts-wqy-zenhei" >&2; fi; }

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# The interception benchmark also loads the HTTP endpoint with wrk (a C load generator).
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || true
	$(BIN)/python -m benchmarks

model: $(STAMP)
	$(BIN)/python -m fanzha.intake.train

serve: $(STAMP)
	$(BIN)/fanzha serve

clean:
	rm -rf $(VENV) .fanzha build *.egg-info src/*.egg-info
