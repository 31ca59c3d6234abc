# The two commands of the README.
.PHONY: run test lint install install-test

install:
	scripts/install.sh

install-test:
	scripts/install.sh --test

run: install
	.venv/bin/widget-api serve

test: install-test
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q

# ruff (rules and format) and mypy over the product packages; configuration in pyproject.toml.
lint:
	.venv/bin/ruff check widget_api knowledge
	.venv/bin/ruff format --check widget_api knowledge
	.venv/bin/mypy
