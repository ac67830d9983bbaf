#!/usr/bin/env bash
# scripts/with-postgres.sh CMD [ARGS...]: runs CMD against a throwaway PostgreSQL cluster (Debian's
# /usr/lib/postgresql/<version>/bin; initdb into a temporary directory as an unprivileged user,
# 127.0.0.1 on a free port, fsync off), with JANUS_PG_URL and JANUS_PG_BIN exported, then removes
# the cluster and exits with CMD's status. Tests, benchmarks and the demo can all use it:
#   scripts/with-postgres.sh npx vitest run src/server/store-contract.test.ts
#   scripts/with-postgres.sh sh -c 'psql "$JANUS_PG_URL" -c "select 1"'
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  echo "usage: scripts/with-postgres.sh CMD [ARGS...]" >&2
  exit 2
fi
exec node --import tsx test/support/with-postgres.ts "$@"
