// A partner system in Java (docs/partners.md, "Try it"), on Apache Kafka's own client.
//
// Submits a referral with three mistakes to pathway.inbound.v1, waits for its outcome on
// the partner's outcome topic and prints it (one rejection naming all three), then
// submits the corrected referral under a new event id and prints its outcome (accepted,
// with the events it caused), then sends that same message again and prints what a
// repeat gets (a duplicate naming the first). Exits non-zero if an outcome does not come
// in time or is not the one expected.
//
//   java -cp "gen/classes:/usr/share/java/protobuf.jar:build/kafka/lib/*" Partner \
//     --bootstrap HOST:PORT [--partner icb] [--agency Y00001] [--timeout SECONDS]
//
// Apache Kafka's Java client needs a real Kafka (docs/devbroker.md). Synthetic data
// only: a random NHS number from the 999 test range, which is never printed.
import com.google.protobuf.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.pathway.v1.CausedEvent;
import org.pathway.v1.ChildIdentity;
import org.pathway.v1.Date;
import org.pathway.v1.Envelope;
import org.pathway.v1.MessageOutcome;
import org.pathway.v1.ReferralReason;
import org.pathway.v1.Violation;

public final class Partner {
  static final String INBOUND = "pathway.inbound.v1";

  final Duration timeout;
  final String outcomesTopic;
  final KafkaProducer<byte[], byte[]> producer;
  final KafkaConsumer<byte[], byte[]> consumer;
  boolean assigned = false;

  Partner(String bootstrap, String partner, Duration timeout) {
    this.timeout = timeout;
    this.outcomesTopic = "pathway.outcomes.v1." + partner;
    // Idempotent, acknowledged by every in-sync replica: a send is either written once or
    // reported failed.
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    // A partner's consumer groups are named "<partner id>.<anything>" (the ACLs allow only
    // that prefix). This group is new on every run, so it starts at the end of each
    // partition as it is now: earlier outcomes are not read. A real partner keeps one
    // group name and reads on from its committed offsets.
    Properties c = new Properties();
    c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    c.put(ConsumerConfig.GROUP_ID_CONFIG,
        partner + ".example-" + UUID.randomUUID().toString().substring(0, 12));
    c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
    consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  static void fail(String why) {
    System.err.println("Partner: " + why);
    System.exit(1);
  }

  void start() {
    consumer.subscribe(List.of(outcomesTopic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        // Resolve "latest" now, before anything is sent, so no outcome is skipped.
        for (TopicPartition tp : partitions) {
          consumer.position(tp);
        }
        assigned = true;
      }

      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}
    });
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!assigned) {
      if (System.nanoTime() > deadline) {
        fail("no partitions of " + outcomesTopic + " assigned within " + timeout.toSeconds() + " s");
      }
      if (!consumer.poll(Duration.ofMillis(200)).isEmpty()) {
        fail("a message before the assignment");  // cannot happen; never drop one
      }
    }
  }

  // The key of an Envelope (docs/partners.md, "Keying"): the first identifier present.
  static String keyOf(Envelope e) {
    if (!e.getSubject().getNhsNumber().isEmpty()) {
      return InboundKey.of("nhs", e.getSubject().getNhsNumber());
    }
    if (!e.getReferralSubmitted().getChild().getNhsNumber().isEmpty()) {
      return InboundKey.of("nhs", e.getReferralSubmitted().getChild().getNhsNumber());
    }
    if (!e.getSubject().getUpn().isEmpty()) {
      return InboundKey.of("upn", e.getSubject().getUpn());
    }
    if (!e.getSubject().getLocalId().isEmpty()) {
      return InboundKey.of("local", e.getSubject().getLocalId());
    }
    return InboundKey.of("event", e.getEventId());
  }

  // Sends one Envelope keyed by its subject bucket; returns its outcome id.
  String send(Envelope e) throws Exception {
    String key = keyOf(e);
    RecordMetadata m = producer.send(new ProducerRecord<>(INBOUND, key.getBytes(), e.toByteArray()))
                           .get(timeout.toSeconds(), TimeUnit.SECONDS);
    // The outcome's id is where the message landed.
    return m.topic() + "/" + m.partition() + "/" + m.offset();
  }

  // The outcome of the message sent to this place (bounded wait).
  MessageOutcome outcome(String outcomeId) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
        MessageOutcome o = MessageOutcome.parseFrom(r.value());
        // Others are for other messages of this partner, or repeats (at least once).
        if (o.getOutcomeId().equals(outcomeId)) {
          return o;
        }
      }
    }
    fail("no outcome " + outcomeId + " on " + outcomesTopic + " within " + timeout.toSeconds() + " s");
    return null;
  }

  static String syntheticNhsNumber() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    while (true) {
      String digits = "999" + String.format("%06d", random.nextInt(1_000_000));
      int sum = 0;
      for (int i = 0; i < 9; i++) {
        sum += (digits.charAt(i) - '0') * (10 - i);
      }
      int check = 11 - sum % 11;
      if (check == 11) {
        check = 0;
      }
      if (check != 10) {
        return digits + check;
      }
    }
  }

  // A complete, valid ReferralSubmitted from a GP: one UUID per message.
  static Envelope.Builder referral(String agency, String nhsNumber, String referralId) {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    Instant now = Instant.now();
    Envelope.Builder e = Envelope.newBuilder()
        .setEventId(UUID.randomUUID().toString())
        .setOccurredAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()));
    e.getSourceBuilder().setAgency(agency).setSystem("example-partner-java");
    e.getActorBuilder().setId("staff-0001").setRole("GP");
    e.getReferralSubmittedBuilder()
        .setReferralId(referralId)
        .setChild(ChildIdentity.newBuilder()
            .setNhsNumber(nhsNumber)
            .setGivenName("Sam")  // invented
            .setFamilyName("Example")
            .setDateOfBirth(Date.newBuilder().setYear(2019).setMonth(6).setDay(14)))
        .setReason(ReferralReason.REFERRAL_REASON_SPEECH_LANGUAGE)
        .setReceivedOn(Date.newBuilder()
            .setYear(today.getYear()).setMonth(today.getMonthValue()).setDay(today.getDayOfMonth()))
        .getReferrerBuilder().setAgency(agency).setRole("GP");
    return e;
  }

  static void show(String title, MessageOutcome o) {
    System.out.println("== " + title);
    System.out.println("outcome " + o.getOutcomeId() + " for event " + o.getInboundEventId() + ": "
        + o.getResultCase().name().toLowerCase());
    for (Violation v : o.getRejected().getViolationsList()) {
      System.out.println("  violation: " + v.getField() + " [" + v.getRule() + "] " + v.getReason());
    }
    List<CausedEvent> events = o.hasAccepted() ? o.getAccepted().getEventsList()
        : o.getDuplicate().getFirst().getEventsList();
    if (o.hasDuplicate()) {
      System.out.println("  first outcome: " + o.getDuplicate().getFirstOutcomeId());
    }
    for (CausedEvent ev : events) {
      System.out.println("  event: " + ev.getType() + " " + ev.getEventId()
          + (ev.getPathwayInstanceId().isEmpty() ? "" : " pathway instance " + ev.getPathwayInstanceId()));
    }
    System.out.flush();
  }

  static void expect(boolean ok, String what) {
    if (!ok) {
      fail("unexpected outcome: " + what);
    }
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>(Map.of("--partner", "icb", "--agency", "Y00001",
        "--timeout", "60"));
    for (int i = 0; i + 1 < argv.length; i += 2) {
      args.put(argv[i], argv[i + 1]);
    }
    if (argv.length % 2 != 0 || !args.containsKey("--bootstrap")) {
      fail("usage: Partner --bootstrap HOST:PORT [--partner icb] [--agency Y00001] [--timeout S]");
    }
    String agency = args.get("--agency");
    Partner partner = new Partner(args.get("--bootstrap"), args.get("--partner"),
        Duration.ofSeconds(Long.parseLong(args.get("--timeout"))));
    try {
      partner.start();
      String nhs = syntheticNhsNumber();
      String referralId = "EX-JAVA-" + UUID.randomUUID().toString().substring(0, 8);

      // 1. Three mistakes: the NHS number's check digit, no date of birth, no reason.
      String wrongNhs = nhs.substring(0, 9) + (char) ('0' + (nhs.charAt(9) - '0' + 1) % 10);
      Envelope.Builder wrongBuilder = referral(agency, wrongNhs, referralId);
      wrongBuilder.getReferralSubmittedBuilder()
          .setReason(ReferralReason.REFERRAL_REASON_UNSPECIFIED)
          .getChildBuilder().clearDateOfBirth();
      Envelope wrong = wrongBuilder.build();
      MessageOutcome o = partner.outcome(partner.send(wrong));
      show("a referral with three mistakes", o);
      expect(o.getInboundEventId().equals(wrong.getEventId()), "another event id");
      expect(o.hasRejected(), "not rejected");
      Set<String> violations = o.getRejected().getViolationsList().stream()
          .map(v -> v.getField() + " " + v.getRule()).collect(Collectors.toSet());
      expect(violations.equals(Set.of(
          "referral_submitted.child.nhs_number nhs_number.modulus11",
          "referral_submitted.child.date_of_birth required",
          "referral_submitted.reason required")), "not the three violations");

      // 2. Corrected, under a NEW event id (a reused id with new content is rejected).
      Envelope right = referral(agency, nhs, referralId).build();
      o = partner.outcome(partner.send(right));
      show("the corrected referral", o);
      expect(o.getInboundEventId().equals(right.getEventId()), "another event id");
      expect(o.hasAccepted() && o.getAccepted().getEventsCount() > 0, "not accepted with events");
      expect(o.getAccepted().getEventsList().stream().anyMatch(ev -> ev.getType().equals("referral_received")),
          "no referral_received");
      String first = o.getOutcomeId();

      // 3. The same message again (as after a crash before the delivery report).
      o = partner.outcome(partner.send(right));
      show("the same message again", o);
      expect(o.getInboundEventId().equals(right.getEventId()), "another event id");
      expect(o.hasDuplicate(), "not a duplicate");
      expect(o.getDuplicate().getFirstOutcomeId().equals(first), "the duplicate does not name the first");
    } finally {
      partner.consumer.close();
      partner.producer.close();
    }
  }
}
