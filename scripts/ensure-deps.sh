#!/usr/bin/env bash
# Installs what tilewatch needs on a fresh Debian machine with Node 20: npm packages (from the lock
# file), when given, Debian packages that are missing, and the compiled build (npm run build). Safe
# to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages" >&2
  # npm ci refuses this lock file under npm 11: it records only this platform's chdb engine package
  # (@chdb/lib-*) and then reports the other platforms' as missing. npm install honours the same
  # locked versions.
  npm install --no-audit --no-fund --loglevel=error
fi
# The compiled build bin/tilewatch.js starts from (dist/, git-ignored), rebuilt when a source is newer.
# Without it (no TypeScript compiler, e.g. NODE_ENV=production installs) bin/tilewatch.js runs the sources.
node scripts/build.mjs --if-stale || echo "no compiled build: bin/tilewatch.js runs the TypeScript sources (tsx)" >&2
