# Thin aliases over scripts/ (which work without make).
.PHONY: dev test bench lint
dev:
	./scripts/dev
test:
	./scripts/test
bench:
	./scripts/bench
lint:
	./scripts/uv run ruff check . && ./scripts/uv run ruff format --check . && ./scripts/uv run mypy
