#!/usr/bin/env bash
# The whole test suite (what `npm test` and CI run): type check, then every test file.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p .
# spawned bin/quorumbl processes run dist/: compile the current sources (skipped when up to date)
node scripts/build.mjs
mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
