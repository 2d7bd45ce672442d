#!/usr/bin/env bash
# The README's test command (`npm test`): lint, types, then every test. The test run finds or
# starts MariaDB and DynamoDB Local itself (lib/local/databases.ts); as root on a fresh
# Debian machine it installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cutover
# npm puts node_modules/.bin first on PATH: the node@24 devDependency runs everything below on the
# functions' own major (nodejs24.x) while npm ci itself ran on the machine's Node.
node_major=$(node -p 'process.versions.node.split(".")[0]')
echo "== node $(node --version) ($(command -v node))"
if [ "$node_major" -lt 24 ]; then
  echo "node_modules/.bin/node is missing or older than 24: run npm ci (it installs the node@24 devDependency)" >&2
  exit 1
fi
echo "== lint (biome)"
npx biome check .
echo "== types (tsc --noEmit)"
npx tsc --noEmit -p .
echo "== tests (vitest)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.cutover/vitest.json "$@" || status=$?
node scripts/summary.mjs .cutover/vitest.json || true
exit "$status"
