#!/usr/bin/env bash
# Every benchmark of the README in a short run (--smoke): a few hundred requests or calls each, to
# prove each script works from this checkout as the README says to run it. The figures they print
# are not read. bench/extension.ts needs the built extension (dist/, `npm run build`) and Debian's
# browsers; without dist/ that run fails, it is not skipped. Every run is made; the step fails when
# any of them does.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
run() {
  echo "==> $*"
  local start=$SECONDS
  if "$@"; then
    echo "    ok ($((SECONDS - start)) s)"
  else
    echo "    FAILED (exit $?): $*"
    failed+=("$*")
  fi
}

run npx tsx bench/vendor.ts --smoke
run npx tsx bench/sites.ts --smoke
run npx tsx bench/skep.ts --smoke
run npx tsx bench/scale.ts --smoke
run npx tsx bench/instances.ts --smoke
run npx tsx bench/framing.ts --smoke
run npx tsx bench/fuzz.ts --smoke
run npx tsx bench/rate-limit.ts --smoke
run node --expose-gc --import tsx bench/memory.ts --smoke
if [ -f dist/chrome/manifest.json ] && [ -f dist/firefox/manifest.json ]; then
  run npx tsx bench/extension.ts --smoke
else
  echo "==> npx tsx bench/extension.ts --smoke"
  echo "    FAILED: dist/chrome and dist/firefox are missing (npm run build first)"
  failed+=("npx tsx bench/extension.ts --smoke (no dist/)")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench smoke runs: ${#failed[@]} failed:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "bench smoke runs: all passed"
