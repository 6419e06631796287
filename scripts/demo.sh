#!/usr/bin/env bash
# The main job on the embedded default: install, simulate a day of museum image-server traffic with
# scrapers in it, replay it into embedded ClickHouse (chDB) under ./data, print alerts and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node bin/tilewatch.js demo "$@"
