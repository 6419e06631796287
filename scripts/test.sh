#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then type check, lint, and the
# unit and integration tests with node's test runner (integration tests use the real engines).
set -euo pipefail
cd "$(dirname "$0")/.."
# librdkafka1: the mock Kafka cluster the ingest tests run against (a real Kafka-protocol broker).
bash scripts/ensure-deps.sh librdkafka1
echo "== typecheck" && npx tsc --noEmit -p tsconfig.json
echo "== lint" && npx eslint --max-warnings 0 .
echo "== tests"
mapfile -t files < <(find test/unit test/integration -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}"
