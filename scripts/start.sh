#!/usr/bin/env bash
# The README's run command (`npm start`): installs what is missing, then runs the product.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
echo "==> building the extension (dist/chrome, dist/firefox and their zips)"
npm run build --silent
exec npx tsx demo/main.ts
