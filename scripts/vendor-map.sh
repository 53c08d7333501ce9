#!/usr/bin/env bash
# Regenerate crates/web/assets/map/us-states.svgpath from the npm package
# us-atlas@3.0.1 (ISC; U.S. Census Bureau cartographic boundaries, public domain)
# decoded with topojson-client@3.1.0 (ISC). Output: one line per state,
# "STATE-NAME<TAB>SVG path", in an equirectangular projection of the lower 48
# states matching crates/web/src/map.rs (x = (lon + 125) * 0.8 * 12, y = (50 - lat) * 12).
set -euo pipefail
tmp=$(mktemp -d)
(cd "$tmp" && npm pack us-atlas@3.0.1 topojson-client@3.1.0 >/dev/null 2>&1 \
  && mkdir a t && tar xzf us-atlas-3.0.1.tgz -C a && tar xzf topojson-client-3.1.0.tgz -C t)
node -e '
const topo = require(process.argv[1] + "/t/package/dist/topojson-client.js");
const us = require(process.argv[1] + "/a/package/states-10m.json");
const states = topo.feature(us, us.objects.states).features;
const skip = new Set(["Alaska", "Hawaii", "Puerto Rico", "American Samoa", "Guam", "Commonwealth of the Northern Mariana Islands", "United States Virgin Islands"]);
const px = ([lon, lat]) => [((lon + 125) * 0.8 * 12).toFixed(1), ((50 - lat) * 12).toFixed(1)];
const ring = (r) => "M" + r.map(px).map(p => p.join(",")).join("L") + "Z";
const out = [];
for (const f of states) {
  if (skip.has(f.properties.name)) continue;
  const g = f.geometry;
  const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
  out.push(f.properties.name + "\t" + polys.map(p => p.map(ring).join("")).join(""));
}
process.stdout.write(out.join("\n") + "\n");
' "$tmp" > crates/web/assets/map/us-states.svgpath
cp "$tmp/a/package/LICENSE" crates/web/assets/map/us-atlas-3.0.1.LICENSE
sha256sum crates/web/assets/map/us-states.svgpath
rm -rf "$tmp"
