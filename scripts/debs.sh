#!/usr/bin/env bash
# Debian packages the tests drive for real: Chromium (dashboard, Playwright), poppler-utils
# (pdftoppm renders the briefing PDF's first page), the Pango stack WeasyPrint prints with.
# Installs only what is missing; says what to run when it cannot (not root, no apt-get).
set -euo pipefail

say() { echo "debs.sh: $*" >&2; }

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0 libpangoft2-1.0-0)
fc-list >/dev/null 2>&1 && [ -n "$(fc-list 2>/dev/null | head -1)" ] || need+=(fonts-dejavu-core)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing Debian packages: ${need[*]}; run 'sudo apt-get install -y ${need[*]}' first."
    exit 1
fi
say "installing ${need[*]} (apt-get install -y)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || say "apt-get update failed; trying the install anyway"
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
