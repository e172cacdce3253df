"""What the ACLs of scripts/partner-acls.sh let each principal do, on a real Kafka with
SASL/PLAIN and the StandardAuthorizer (run by partner_acls_test.sh, which starts the
cluster, applies the layout for partners alpha and beta and creates the topics).

    partner_acls_check.py BOOTSTRAP USERS-FILE

USERS-FILE has NAME:PASSWORD lines for admin, pathway-engine, alpha and beta. Every
check is bounded; the first one that does not hold exits non-zero with what was
expected and what happened.
"""
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

INBOUND = "pathway.inbound.v1"
EVENTS = "pathway.events.v1"
ALPHA = "pathway.outcomes.v1.alpha"
BETA = "pathway.outcomes.v1.beta"
UNADDRESSED = "pathway.outcomes.v1._unaddressed"
WAIT = 20.0  # seconds any one produce or read may take

bootstrap, users_file = sys.argv[1:3]
passwords = {}
with open(users_file, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith("#"):
            name, password = line.split(":", 1)
            passwords[name] = password
run = uuid.uuid4().hex[:8]  # tells this run's records and groups apart
checks = 0


def ok(what):
    global checks
    checks += 1
    print(f"ok {checks}: {what}", flush=True)


def fail(what):
    sys.exit(f"FAIL: {what}")


def config(user, **extra):
    c = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": user,
        "sasl.password": passwords[user],
    }
    c.update(extra)
    return c


def produce(user, topic, value, **extra):
    """Produces one record as user; returns the delivery error (None: delivered)."""
    producer = Producer(config(user, **{"message.timeout.ms": int(WAIT * 1000), **extra}))
    reports = []
    try:
        producer.produce(topic, key=b"k", value=value.encode(),
                         on_delivery=lambda err, msg: reports.append(err))
    except KafkaException as e:
        return e.args[0]
    producer.flush(WAIT + 5)
    if not reports:
        fail(f"{user}: no delivery report for {topic} within {WAIT + 5} s")
    return reports[0]


def read(user, topic, group):
    """Reads topic from the beginning in group as user, until a record of this run or an
    error. Returns ("record", values) or ("error", KafkaError) or ("nothing", None)."""
    consumer = Consumer(config(user, **{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "session.timeout.ms": 6000}))
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                return "error", msg.error()
            value = msg.value().decode()
            if run in value:
                consumer.commit(message=msg, asynchronous=False)  # the group's offsets too
                return "record", value
        return "nothing", None
    finally:
        consumer.close()


def expect_read(user, topic, group, value):
    kind, got = read(user, topic, group)
    if kind != "record" or got != value:
        fail(f"{user} in group {group} should read '{value}' on {topic}; got {kind}: {got}")
    ok(f"{user} in group {group} reads {topic}")


def expect_refused(user, topic, group, code):
    kind, got = read(user, topic, group)
    if kind != "error" or got.code() != code:
        fail(f"{user} in group {group} should be refused reading {topic} with "
             f"{KafkaError(code).name()}; got {kind}: {got}")
    ok(f"{user} in group {group} is refused reading {topic}: {got.name()}")


def high_watermark(user, topic):
    consumer = Consumer(config(user, **{"group.id": f"admin.watermarks.{run}"}))
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=WAIT)[1]
    finally:
        consumer.close()


# The records the reads look for: outcomes as the engine sends them, and what operations
# topics hold (written by admin, as the engine would).
records = {t: f"{t} record {run}" for t in (ALPHA, BETA, UNADDRESSED, EVENTS)}

# The engine's principal sends outcomes on the prefix.
for topic in (ALPHA, BETA, UNADDRESSED):
    err = produce("pathway-engine", topic, records[topic], acks="all")
    if err is not None:
        fail(f"pathway-engine should produce to {topic}; got {err}")
    ok(f"pathway-engine produces to {topic}")
if (err := produce("admin", EVENTS, records[EVENTS])) is not None:
    fail(f"admin should produce to {EVENTS}; got {err}")

# A partner sends messages (idempotent, as partners should).
err = produce("alpha", INBOUND, f"inbound {run}", acks="all", **{"enable.idempotence": True})
if err is not None:
    fail(f"alpha should produce to {INBOUND}; got {err}")
ok(f"alpha produces to {INBOUND} (idempotent)")

# A partner reads its own outcomes, in a group named after it.
expect_read("alpha", ALPHA, "alpha.reader", records[ALPHA])
expect_read("beta", BETA, "beta.reader", records[BETA])

# ... and nobody else's, nor the topics that hold every partner's children.
for topic in (BETA, EVENTS, UNADDRESSED, INBOUND):
    expect_refused("alpha", topic, "alpha.reader", KafkaError.TOPIC_AUTHORIZATION_FAILED)
expect_refused("beta", ALPHA, "beta.reader", KafkaError.TOPIC_AUTHORIZATION_FAILED)

# A group outside its prefix is refused, even on its own topic.
for group in ("beta.reader", f"alphabet.{run}", "reader"):
    expect_refused("alpha", ALPHA, group, KafkaError.GROUP_AUTHORIZATION_FAILED)

# A partner cannot forge outcomes, its own or another's.
before = high_watermark("admin", ALPHA)
for topic in (ALPHA, BETA):
    err = produce("alpha", topic, f"forged {run}")
    if err is None or err.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
        fail(f"alpha should be refused producing to {topic} with TOPIC_AUTHORIZATION_FAILED; "
             f"got {err}")
    ok(f"alpha is refused producing to {topic}: {err.name()}")
if (after := high_watermark("admin", ALPHA)) != before:
    fail(f"nothing should have been written to {ALPHA}; its end moved from {before} to {after}")
ok(f"{ALPHA} holds no forged record")

# Metadata shows a partner only its own topics.
topics = set(AdminClient(config("alpha")).list_topics(timeout=WAIT).topics)
if topics != {INBOUND, ALPHA}:
    fail(f"alpha should see only {INBOUND} and {ALPHA} in metadata; sees {sorted(topics)}")
ok(f"alpha's metadata lists only {INBOUND} and {ALPHA}")


def create_topic(user, topic):
    admin = AdminClient(config(user))  # kept alive until the answer is in
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1)], request_timeout=WAIT)
    try:
        futures[topic].result(timeout=WAIT + 5)
        return None
    except KafkaException as e:
        return e.args[0]


# The engine may create a missing outcome topic (a partner added later); a partner may not.
if (err := create_topic("pathway-engine", f"pathway.outcomes.v1.gamma-{run}")) is not None:
    fail(f"pathway-engine should create pathway.outcomes.v1.gamma-{run}; got {err}")
ok("pathway-engine creates a missing outcome topic")
err = create_topic("alpha", f"pathway.outcomes.v1.alpha-{run}")
if err is None or err.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
    fail(f"alpha should be refused creating a topic with TOPIC_AUTHORIZATION_FAILED; got {err}")
ok(f"alpha is refused creating a topic: {err.name()}")

# The control: as admin the same reads, in the same groups, succeed, so each refusal
# above is the ACLs and not a broken cluster.
for topic in (BETA, EVENTS, UNADDRESSED):
    expect_read("admin", topic, "alpha.reader", records[topic])
expect_read("admin", ALPHA, "beta.reader", records[ALPHA])

print(f"PASS: {checks} checks", flush=True)
