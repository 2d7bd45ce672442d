#!/usr/bin/env bash
# The README's test command (`npm test`): lint, types, then every test. The test run finds or
# starts MariaDB and DynamoDB Local itself (test/support/databases.ts); as root on a fresh
# Debian machine it installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cutover
echo "== lint (biome)"
npx biome check .
echo "== types (tsc --noEmit)"
npx tsc --noEmit -p .
echo "== tests (vitest)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.cutover/vitest.json "$@" || status=$?
node scripts/summary.mjs .cutover/vitest.json || true
exit "$status"
