#!/usr/bin/env bash
# The README's test command (`npm test`): installs what is missing, then runs every test:
# typecheck, the linter (typescript-eslint and knip), vitest (unit, vector, protocol, property,
# vendor, demo), the extension's two builds and Mozilla's linter on the Firefox one, then the
# end-to-end scenarios in Debian's Chromium and Debian's Firefox ESR (e2e/), and the bench smoke runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

# Debian's browsers: the tests never download one.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
# Debian's PostgreSQL server: the PgStore tests start a throwaway cluster of it (test/support/postgres.ts).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian's ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

echo "==> typecheck: the whole tree, then each layer with only its platform's declarations"
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p tsconfig.core.json       # src/crypto, src/protocol: no DOM, WebWorker or Node
npx tsc --noEmit -p tsconfig.extension.json  # the extension: no Node
npx tsc --noEmit -p tsconfig.server.json     # the SDK and the demo vendor: no DOM

mkdir -p test-results
status=0

echo "==> lint: typescript-eslint (type-aware) and knip (unused files, exports, dependencies)"
npx eslint . || status=1
npx knip || status=1

echo "==> unit, vector, protocol, property and vendor tests"
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=$?

echo "==> build the extension (dist/chrome, dist/firefox, janus-chrome.zip, janus-firefox.zip)"
e2e_status=0
rm -f test-results/e2e.json
if npm run build; then
  echo "==> web-ext lint dist/firefox (Mozilla's linter: no error, no warning)"
  npx web-ext lint --source-dir dist/firefox --warnings-as-errors --boring || status=1
  echo "==> end-to-end tests (Chromium and Firefox ESR, the built extension, the demo vendor)"
  npx playwright test || e2e_status=$?
else
  e2e_status=1
fi
[ "$e2e_status" = 0 ] || status=1

echo "==> bench smoke runs (every bench script of the README, a few hundred requests each; figures not read)"
bash scripts/bench-smoke.sh || status=1

# One plain closing line for any reader of the log: "N passed, N failed", over vitest and e2e.
E2E_STATUS=$e2e_status node -e '
  const fs = require("fs");
  const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return null; } };
  const v = read("test-results/vitest.json");
  const e = read("test-results/e2e.json");
  let passed = 0, failed = 0, skipped = 0;
  if (v) { passed += v.numPassedTests; failed += v.numFailedTests; skipped += v.numPendingTests || 0; } else failed += 1;
  if (e && e.stats) { passed += e.stats.expected; failed += e.stats.unexpected + (e.stats.flaky || 0); skipped += e.stats.skipped || 0; }
  else if (process.env.E2E_STATUS !== "0") failed += 1;
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit $status
