#!/usr/bin/env bash
# The README's test command (`npm test`): installs what is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

echo "==> typecheck"
npx tsc --noEmit -p tsconfig.json

echo "==> unit, vector and property tests"
npx vitest run
