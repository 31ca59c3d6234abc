# The two commands of the README.
.PHONY: run test install install-test

install:
	scripts/install.sh

install-test:
	scripts/install.sh --test

run: install
	.venv/bin/widget-api serve

test: install-test
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q
