"""The Kafka key of a message a partner sends to pathway.inbound.v1 (docs/partners.md).

One child's messages must stay in order on one partition, yet a key must not be
personal data. The key is a coarse bucket of the child's identifier:

    "subject-bucket:" + three letters 'a'..'p'

spelling, 4 bits per letter (most significant first), the top 12 bits of
SHA-256("pathway inbound subject bucket v1\\n" + kind + ":" + identifier). The kind and
identifier are the first present of:

    subject.nhs_number                   kind "nhs"
    referral_submitted.child.nhs_number  kind "nhs"
    subject.upn                          kind "upn"
    subject.local_id                     kind "local"
    the event id                         kind "event"  (a message that names no child)

There are 4,096 buckets (about 250,000 valid NHS numbers in each) and no digits in a
key, so a key names nobody. No secret is involved: every partner computes the same key.
Standard library only; examples/inbound_key_vectors.json is the reference, checked
against the engine's own implementation (services/pathwayctl/inbound_key.cc).
"""

import hashlib

DOMAIN = "pathway inbound subject bucket v1\n"
PREFIX = "subject-bucket:"
KINDS = ("nhs", "upn", "local", "event")


def inbound_key(kind: str, identifier: str) -> str:
    """The key for a message about the child `identifier` of the given kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown identifier kind {kind!r} (one of {', '.join(KINDS)})")
    digest = hashlib.sha256((DOMAIN + kind + ":" + identifier).encode("utf-8")).digest()
    bucket = ((digest[0] << 8) | digest[1]) >> 4  # the top 12 bits
    return PREFIX + "".join(chr(ord("a") + ((bucket >> shift) & 0xF)) for shift in (8, 4, 0))


def envelope_key(envelope) -> str:
    """The key for a pathway.v1.Envelope (generated Python code), by the rule above."""
    if envelope.subject.nhs_number:
        return inbound_key("nhs", envelope.subject.nhs_number)
    if envelope.referral_submitted.child.nhs_number:
        return inbound_key("nhs", envelope.referral_submitted.child.nhs_number)
    if envelope.subject.upn:
        return inbound_key("upn", envelope.subject.upn)
    if envelope.subject.local_id:
        return inbound_key("local", envelope.subject.local_id)
    return inbound_key("event", envelope.event_id)
