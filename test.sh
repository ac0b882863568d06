#!/usr/bin/env bash
# Set up (see setup.sh), then lint, type-check, check the architecture, run the tests.
# Extra arguments go to pytest, e.g. ./test.sh -k packet_list
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" && ruff check . && ruff format --check .
echo "== mypy" && mypy
echo "== import-linter" && lint-imports
echo "== pytest" && pytest "$@"
