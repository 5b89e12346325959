#!/usr/bin/env bash
# Vendors the console's third-party JavaScript and CSS from npm at pinned
# versions, with their licences, into static/vendor (committed; the binary
# embeds it, so `go run ./cmd/whistle dev` needs neither Node nor internet).
# Run it after changing a version below; `go test ./console` checks that
# static/vendor/VERSIONS matches this list.
#
# axe-core is for the browser tests only (testdata/), never served.
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(
  htmx.org@2.0.11        # server-rendered pages that swap fragments
  htmx-ext-sse@2.2.4     # htmx's server-sent events extension (the wall board)
  leaflet@1.9.4          # the map of open incidents
  echarts@6.1.0          # trend charts on the district's page
  swagger-ui-dist@5.35.0 # the API reference at /docs, offline
  axe-core@4.14.1        # accessibility checks in the browser tests
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --no-save --ignore-scripts --no-audit --no-fund "${PKGS[@]}" >/dev/null)
nm="$tmp/node_modules"
out=static/vendor
rm -rf "$out" testdata/vendor
mkdir -p "$out"/{htmx,leaflet/images,echarts,swagger-ui} testdata/vendor

cp "$nm/htmx.org/dist/htmx.min.js" "$out/htmx/"
cp "$nm/htmx.org/LICENSE" "$out/htmx/LICENSE"
cp "$nm/htmx-ext-sse/dist/sse.min.js" "$out/htmx/sse.min.js"
cp "$nm/htmx-ext-sse/LICENSE" "$out/htmx/LICENSE.sse"
cp "$nm/leaflet/dist/leaflet.js" "$nm/leaflet/dist/leaflet.css" "$out/leaflet/"
cp "$nm"/leaflet/dist/images/*.png "$out/leaflet/images/"
cp "$nm/leaflet/LICENSE" "$out/leaflet/LICENSE"
# The "common" build: line, bar and pie charts with the legend and tooltip
# the trends need (the "simple" build lacks the legend), at two thirds of
# the full build; only the league page loads it.
cp "$nm/echarts/dist/echarts.common.min.js" "$out/echarts/"
cp "$nm/echarts/LICENSE" "$out/echarts/LICENSE"
cp "$nm/echarts/NOTICE" "$out/echarts/NOTICE" 2>/dev/null || true
cp "$nm/swagger-ui-dist/swagger-ui-bundle.js" "$nm/swagger-ui-dist/swagger-ui.css" "$out/swagger-ui/"
cp "$nm/swagger-ui-dist/LICENSE" "$out/swagger-ui/LICENSE"
cp "$nm/swagger-ui-dist/NOTICE" "$out/swagger-ui/NOTICE" 2>/dev/null || true
cp "$nm/axe-core/axe.min.js" testdata/vendor/
cp "$nm/axe-core/LICENSE" testdata/vendor/LICENSE.axe-core

for p in "${PKGS[@]}"; do
  name=${p%@*}; want=${p##*@}
  got=$(node -p "require('$nm/$name/package.json').version")
  [ "$got" = "$want" ] || { echo "npm gave $name $got, want $want" >&2; exit 1; }
  echo "$name $got"
done | sort > "$out/VERSIONS"
echo "vendored:"; cat "$out/VERSIONS"
