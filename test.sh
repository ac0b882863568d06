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
if python -c 'import sys, engine.native as n; sys.exit(not n.status().compiled)'; then
    # the tests that replace a function inside a compiled module, on the pure-Python modules
    echo "== pytest (pure Python)" && { LIVETAP_PURE=1 pytest -m pure "$@" || [ $? -eq 5 ]; }  # 5: none selected
fi
