# `make check` runs exactly what CI runs (.ci/run: a fresh venv, lint, the torch-free tier,
# then the README's test command). The other targets are its parts, in the current venv.
.PHONY: check lint fast test

check:
	bash .ci/run

lint:
	ruff check .
	ruff format --check .

fast:
	python -m pytest -m "not torch and not slow" -q

test:
	python -m pytest
