#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing, then type check, lint, and the
# unit and integration tests with node's test runner (integration tests use the real engines).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests run for real: librdkafka1 (the mock Kafka cluster, a real Kafka-protocol
# broker), prometheus-alertmanager (the Alertmanager sink), prometheus (promtool checks the alerting
# rules), docker-compose (validates docker-compose.yml), chromium (the web view, via playwright-core).
bash scripts/ensure-deps.sh librdkafka1 prometheus-alertmanager prometheus docker-compose chromium
echo "== typecheck" && npx tsc --noEmit -p tsconfig.json
echo "== lint" && npx eslint --max-warnings 0 .
echo "== tests"
mapfile -t files < <(find test/unit test/integration -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}"
