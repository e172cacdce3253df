"""examples/python/inbound_key.py gives every key of examples/inbound_key_vectors.json.

The vectors are checked against the engine's own implementation by
tests/services/pathwayctl/inbound_key_test.cc, so a pass here means the Python
function keys as pathway does.   usage: inbound_key_vectors_test.py REPO
"""

import json
import pathlib
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
repo = pathlib.Path(sys.argv[1])
sys.path.insert(0, str(repo / "examples" / "python"))
from inbound_key import inbound_key  # noqa: E402

vectors = json.loads((repo / "examples" / "inbound_key_vectors.json").read_text("utf-8"))["vectors"]
failures = 0
for v in vectors:
    got = inbound_key(v["kind"], v["identifier"])
    if got != v["key"]:
        failures += 1
        print(f"FAIL: {v['note']}: {got}, expected {v['key']}")
kinds = {v["kind"] for v in vectors}
if len(vectors) < 10 or kinds != {"nhs", "upn", "local", "event"}:
    failures += 1
    print(f"FAIL: {len(vectors)} vectors of kinds {sorted(kinds)}: expected 10 or more of each kind")
print(f"{sum(inbound_key(v['kind'], v['identifier']) == v['key'] for v in vectors)} passed, {failures} failed")
sys.exit(1 if failures else 0)
