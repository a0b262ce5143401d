#!/usr/bin/env bash
# Install the Debian packages the tests need, only those missing (needs root, or sudo, and apt).
set -euo pipefail

need=()
# Listings are captured first: with pipefail, `grep -q` closing a pipe early would fail the listing command.
libraries=$(ldconfig -p 2>/dev/null || true)
fonts=$(fc-list 2>/dev/null || true)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# WeasyPrint renders PDFs through Pango, and subsets fonts with HarfBuzz.
grep -q libpango-1.0 <<<"$libraries" || need+=(libpango-1.0-0 libpangoft2-1.0-0)
grep -q libharfbuzz-subset <<<"$libraries" || need+=(libharfbuzz-subset0)
# The page tests drive Debian's Chromium headless.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
grep -qi dejavu <<<"$fonts" || need+=(fonts-dejavu-core)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages to install: ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
