"""Validate a FHIR bundle with an outside library: fhir.resources (< 7, pydantic 1).

Reads the JSON file named on the command line: a Bundle. Parses the bundle and
every entry's resource with fhir.resources' models; prints one line per
resource ("ok <type>/<id>" or "INVALID <type>/<id>: <errors>") and exits 1
when any is invalid.
"""
import json
import sys

from fhir.resources import construct_fhir_element

bundle = json.load(open(sys.argv[1]))
bad = 0
items = [bundle] + [e["resource"] for e in bundle.get("entry", [])]
for obj in items:
    kind, rid = obj.get("resourceType"), obj.get("id")
    try:
        construct_fhir_element(kind, obj)
        print(f"ok {kind}/{rid}")
    except Exception as e:  # the validator's own message, whole
        bad += 1
        print(f"INVALID {kind}/{rid}: {e}".replace("\n", " | "))
sys.exit(1 if bad else 0)
