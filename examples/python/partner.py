"""A partner system in Python (docs/partners.md, "Try it").

Submits a referral with three mistakes to pathway.inbound.v1, waits for its outcome on
the partner's outcome topic and prints it (one rejection naming all three), then
submits the corrected referral under a new event id and prints its outcome (accepted,
with the events it caused), then sends that same message again and prints what a repeat
gets (a duplicate naming the first). Exits non-zero if an outcome does not come in time
or is not the one expected.

    PYTHONPATH=gen/python .venv/bin/python examples/python/partner.py --bootstrap HOST:PORT

Needs the code generated from proto/ (docs/partners.md, "Generating code") on
PYTHONPATH, and confluent-kafka. Synthetic data only: a random NHS number from the
999 test range, which is never printed.
"""

import argparse
import datetime
import random
import sys
import time
import uuid
from typing import Optional

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, Producer, TopicPartition

from inbound_key import envelope_key

try:
    from pathway.v1 import envelope_pb2, outcome_pb2
except ImportError:
    sys.exit("partner.py: no generated code: run protoc as docs/partners.md says and put "
             "gen/python on PYTHONPATH")

INBOUND = "pathway.inbound.v1"


def synthetic_nhs_number() -> str:
    """A random valid NHS number of the 999 range (not issued to anyone)."""
    while True:
        digits = "999" + "".join(random.choice("0123456789") for _ in range(6))
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return digits + str(check)


def referral(agency: str, nhs_number: str, referral_id: str) -> envelope_pb2.Envelope:
    """A complete, valid ReferralSubmitted from a GP: one UUID per message."""
    e = envelope_pb2.Envelope(event_id=str(uuid.uuid4()))
    e.occurred_at.GetCurrentTime()
    e.source.agency = agency
    e.source.system = "example-partner-python"
    e.actor.id = "staff-0001"
    e.actor.role = "GP"
    r = e.referral_submitted
    r.referral_id = referral_id
    r.child.nhs_number = nhs_number
    r.child.given_name = "Alex"   # invented
    r.child.family_name = "Example"
    r.child.date_of_birth.year, r.child.date_of_birth.month, r.child.date_of_birth.day = 2019, 6, 14
    r.referrer.agency = agency
    r.referrer.role = "GP"
    r.reason = envelope_pb2.REFERRAL_REASON_SPEECH_LANGUAGE
    today = datetime.datetime.now(datetime.timezone.utc).date()
    r.received_on.year, r.received_on.month, r.received_on.day = today.year, today.month, today.day
    return e


class Partner:
    def __init__(self, bootstrap: str, partner: str, timeout: float) -> None:
        self.timeout = timeout
        self.outcomes_topic = f"pathway.outcomes.v1.{partner}"
        # Idempotent, acknowledged by every in-sync replica: a send is either written once
        # or reported failed.
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                  "enable.idempotence": True})
        # A partner's consumer groups are named "<partner id>.<anything>" (the ACLs allow
        # only that prefix). This group is new on every run, so it starts at the end of
        # each partition as it is now (see on_assign): earlier outcomes are not read. A
        # real partner keeps one group name and reads on from its committed offsets.
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"{partner}.example-{uuid.uuid4().hex[:12]}",
                                  "enable.auto.commit": True,
                                  "session.timeout.ms": 6000})
        self.assigned = False

    def on_assign(self, consumer: Consumer, partitions: list) -> None:
        committed = consumer.committed(partitions, timeout=10)
        for tp in committed:
            if tp.offset == OFFSET_INVALID:  # nothing committed yet: from the end as of now
                tp.offset = consumer.get_watermark_offsets(tp, timeout=10)[1]
        consumer.assign(committed)
        self.assigned = True

    def start(self) -> None:
        self.consumer.subscribe([self.outcomes_topic], on_assign=self.on_assign)
        deadline = time.monotonic() + self.timeout
        while not self.assigned:
            if time.monotonic() > deadline:
                raise SystemExit(f"no partitions of {self.outcomes_topic} assigned within "
                                 f"{self.timeout:.0f} s")
            msg = self.consumer.poll(0.2)
            if msg is not None and msg.error():
                raise SystemExit(f"consumer error: {msg.error()}")
            if msg is not None:  # cannot happen before the assignment; never drop one
                raise SystemExit("a message before the assignment")

    def send(self, e: envelope_pb2.Envelope) -> str:
        """Sends one Envelope keyed by its subject bucket; returns its outcome id."""
        reports = []
        self.producer.produce(INBOUND, key=envelope_key(e).encode(), value=e.SerializeToString(),
                              on_delivery=lambda err, msg: reports.append((err, msg)))
        if self.producer.flush(self.timeout) != 0 or len(reports) != 1 or reports[0][0] is not None:
            raise SystemExit(f"not delivered: {reports[0][0] if reports else 'no report in time'}")
        msg = reports[0][1]
        # The outcome's id is where the message landed.
        return f"{msg.topic()}/{msg.partition()}/{msg.offset()}"

    def outcome(self, outcome_id: str) -> outcome_pb2.MessageOutcome:
        """The outcome of the message sent to this place (bounded wait)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise SystemExit(f"consumer error: {msg.error()}")
            o = outcome_pb2.MessageOutcome.FromString(msg.value())
            # Others are for other messages of this partner, or repeats (at least once).
            if o.outcome_id == outcome_id:
                return o
        raise SystemExit(f"no outcome {outcome_id} on {self.outcomes_topic} within "
                         f"{self.timeout:.0f} s")

    def close(self) -> None:
        self.consumer.close()


def show(title: str, o: outcome_pb2.MessageOutcome) -> None:
    print(f"== {title}")
    print(f"outcome {o.outcome_id} for event {o.inbound_event_id}: {o.WhichOneof('result')}")
    if o.HasField("rejected"):
        for v in o.rejected.violations:
            print(f"  violation: {v.field} [{v.rule}] {v.reason}")
    events = (o.accepted.events if o.HasField("accepted")
              else o.duplicate.first.events if o.HasField("duplicate") else [])
    if o.HasField("duplicate"):
        print(f"  first outcome: {o.duplicate.first_outcome_id}")
    for ev in events:
        print(f"  event: {ev.type} {ev.event_id}"
              + (f" pathway instance {ev.pathway_instance_id}" if ev.pathway_instance_id else ""))
    sys.stdout.flush()


def expect(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"partner.py: unexpected outcome: {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="bootstrap.servers, HOST:PORT")
    parser.add_argument("--partner", default="icb", help="partner id (config/partners.json)")
    parser.add_argument("--agency", default="Y00001",
                        help="the sending agency, one of the partner's registered agencies")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per outcome")
    args = parser.parse_args()

    partner = Partner(args.bootstrap, args.partner, args.timeout)
    try:
        partner.start()
        nhs = synthetic_nhs_number()
        referral_id = f"EX-PY-{uuid.uuid4().hex[:8]}"

        # 1. Three mistakes: the NHS number's check digit, no date of birth, no reason.
        wrong = referral(args.agency, nhs[:9] + str((int(nhs[9]) + 1) % 10), referral_id)
        wrong.referral_submitted.child.ClearField("date_of_birth")
        wrong.referral_submitted.reason = envelope_pb2.REFERRAL_REASON_UNSPECIFIED
        o = partner.outcome(partner.send(wrong))
        show("a referral with three mistakes", o)
        expect(o.inbound_event_id == wrong.event_id, "another event id")
        expect(o.HasField("rejected"), "not rejected")
        expect({(v.field, v.rule) for v in o.rejected.violations} == {
            ("referral_submitted.child.nhs_number", "nhs_number.modulus11"),
            ("referral_submitted.child.date_of_birth", "required"),
            ("referral_submitted.reason", "required")}, "not the three violations")

        # 2. Corrected, under a NEW event id (a reused id with new content is rejected).
        right = referral(args.agency, nhs, referral_id)
        o = partner.outcome(partner.send(right))
        show("the corrected referral", o)
        expect(o.inbound_event_id == right.event_id, "another event id")
        expect(o.HasField("accepted") and len(o.accepted.events) > 0, "not accepted with events")
        expect("referral_received" in [ev.type for ev in o.accepted.events], "no referral_received")
        first = o.outcome_id

        # 3. The same message again (as after a crash before the delivery report).
        o = partner.outcome(partner.send(right))
        show("the same message again", o)
        expect(o.inbound_event_id == right.event_id, "another event id")
        expect(o.HasField("duplicate"), "not a duplicate")
        expect(o.duplicate.first_outcome_id == first, "the duplicate does not name the first")
        return 0
    except KafkaException as e:
        raise SystemExit(f"partner.py: {e}")
    finally:
        partner.close()


if __name__ == "__main__":
    sys.exit(main())
