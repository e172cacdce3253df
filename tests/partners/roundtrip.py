"""The Python code protoc generates from proto/ works with the pinned runtime: an
Envelope and a MessageOutcome survive serialising and parsing, the schema's `required`
option is readable, and envelope_key (examples/python) keys the Envelope as the vectors
say.   usage: PYTHONPATH=gen/python roundtrip.py REPO   (docs_commands_test.sh)
"""

import pathlib
import sys
import uuid

from pathway.v1 import common_pb2, envelope_pb2, outcome_pb2

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, str(pathlib.Path(sys.argv[1]) / "examples" / "python"))
from inbound_key import envelope_key  # noqa: E402

e = envelope_pb2.Envelope(event_id=str(uuid.uuid4()))
e.occurred_at.GetCurrentTime()
e.source.agency = "Y00001"
e.source.system = "roundtrip"
r = e.referral_submitted
r.referral_id = "RT-1"
r.child.nhs_number = "9434765919"  # a documented test number (tests/common/fixtures.h)
r.child.given_name = "Test"
r.child.family_name = "Child"
r.child.date_of_birth.year, r.child.date_of_birth.month, r.child.date_of_birth.day = 2019, 6, 14
r.referrer.agency = "Y00001"
r.reason = envelope_pb2.REFERRAL_REASON_SPEECH_LANGUAGE
r.received_on.year, r.received_on.month, r.received_on.day = 2025, 3, 10

back = envelope_pb2.Envelope.FromString(e.SerializeToString())
assert back == e, "the Envelope did not round-trip"
assert back.WhichOneof("payload") == "referral_submitted"
assert envelope_key(back) == "subject-bucket:gmi", envelope_key(back)

required = envelope_pb2.ChildIdentity.DESCRIPTOR.fields_by_name["nhs_number"].GetOptions()
assert required.Extensions[common_pb2.required], "the (pathway.v1.required) option is not readable"

o = outcome_pb2.MessageOutcome(outcome_id="pathway.inbound.v1/3/42", inbound_event_id=e.event_id)
for field, rule in [("referral_submitted.child.nhs_number", "nhs_number.modulus11"),
                    ("referral_submitted.child.date_of_birth", "required"),
                    ("referral_submitted.reason", "required")]:
    o.rejected.violations.add(field=field, rule=rule, reason="a reason")
back_o = outcome_pb2.MessageOutcome.FromString(o.SerializeToString())
assert back_o.WhichOneof("result") == "rejected"
assert [v.rule for v in back_o.rejected.violations] == ["nhs_number.modulus11", "required", "required"]
print("python: Envelope and MessageOutcome round-trip; key", envelope_key(back))
