"""Validate a FHIR bundle with an outside library: fhir.resources (< 7, pydantic 1).

Reads the files named on the command line: a Bundle (JSON; the bundle and
every entry's resource) or NDJSON (one resource per line, FHIR Bulk Data).
Parses each with fhir.resources' models; prints one line per
resource ("ok <type>/<id>" or "INVALID <type>/<id>: <errors>") and exits 1
when any is invalid.
"""
import json
import sys

from fhir.resources import construct_fhir_element

items = []
for path in sys.argv[1:]:
    if path.endswith(".ndjson"):
        # FHIR Bulk Data: one resource per line.
        items += [json.loads(line) for line in open(path) if line.strip()]
    else:
        bundle = json.load(open(path))
        items += [bundle] + [e["resource"] for e in bundle.get("entry", [])]
bad = 0
for obj in items:
    kind, rid = obj.get("resourceType"), obj.get("id")
    try:
        construct_fhir_element(kind, obj)
        print(f"ok {kind}/{rid}")
    except Exception as e:  # the validator's own message, whole
        bad += 1
        print(f"INVALID {kind}/{rid}: {e}".replace("\n", " | "))
sys.exit(1 if bad else 0)
