#!/usr/bin/env bash
# Refresh the dashboard's vendored JavaScript from the npm registry (run by hand, then commit).
#
# The dashboard works offline: MapLibre GL JS, vega, vega-lite, vega-embed and vega-interpreter
# (Vega without eval, for a strict Content-Security-Policy) are served from the package's
# static files, each with its LICENSE and the exact version in VERSIONS. axe-core (accessibility
# checks) goes to tests/web/vendor only: it is a test tool, never served.
#
#   scripts/vendor_js.sh            # the versions pinned below
#   MAPLIBRE=5.24.1 scripts/vendor_js.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MAPLIBRE=${MAPLIBRE:-5.24.1}
VEGA=${VEGA:-6.4.0}
VEGA_LITE=${VEGA_LITE:-6.5.0}
VEGA_EMBED=${VEGA_EMBED:-7.3.0}
VEGA_INTERPRETER=${VEGA_INTERPRETER:-2.3.2}
AXE=${AXE:-4.14.1}

static=src/vru/web/static/vendor
tests=tests/web/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION DEST FILE... : npm pack, unpack, copy the files and the licence
fetch() {
  local name=$1 version=$2 dest=$3
  shift 3
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  local tgz
  tgz=$(ls "$work"/"${name//\//-}"-"$version".tgz)
  rm -rf "$work/package" && tar -xzf "$tgz" -C "$work"
  mkdir -p "$dest"
  for f in "$@"; do cp "$work/package/$f" "$dest/"; done
  local lic
  lic=$(ls "$work"/package/LICEN[CS]E* 2>/dev/null | head -1)
  test -n "$lic" || { echo "$name $version ships no LICENSE file" >&2; exit 1; }
  cp "$lic" "$dest/LICENSE-$name.txt"
  echo "$name $version $(sha256sum "$tgz" | cut -d' ' -f1)" >> "$dest/VERSIONS.new"
}

rm -f "$static/VERSIONS.new" "$tests/VERSIONS.new"
fetch maplibre-gl "$MAPLIBRE" "$static" dist/maplibre-gl-csp.js dist/maplibre-gl-csp-worker.js \
  dist/maplibre-gl.css
fetch vega "$VEGA" "$static" build/vega.min.js
fetch vega-lite "$VEGA_LITE" "$static" build/vega-lite.min.js
fetch vega-embed "$VEGA_EMBED" "$static" build/vega-embed.min.js
fetch vega-interpreter "$VEGA_INTERPRETER" "$static" build/vega-interpreter.js
# an ES module importing vega-util: point it at our shim over the vega global (same functions)
sed -i "s|from 'vega-util'|from '../vega-util-global.js'|" "$static/vega-interpreter.js"
fetch axe-core "$AXE" "$tests" axe.min.js
mv "$static/VERSIONS.new" "$static/VERSIONS"
mv "$tests/VERSIONS.new" "$tests/VERSIONS"
# source maps point at files we do not ship; a browser would ask the server for them
sed -i '/sourceMappingURL=/d' "$static"/*.js "$tests"/axe.min.js
echo "vendored into $static and $tests:"
cat "$static/VERSIONS" "$tests/VERSIONS"
