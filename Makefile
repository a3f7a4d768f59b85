# Thin aliases over scripts/ (which work without make).
.PHONY: dev test bench lint
dev:
	./scripts/dev
test:
	./scripts/test
bench:
	./scripts/bench
lint:
	cd packages/backend && uv run ruff check . && uv run ruff format --check . && uv run mypy
