// The Java code protoc generates from proto/ works with Debian's protobuf-java 3.21.12:
// an Envelope and a MessageOutcome survive serialising and parsing, the schema's
// `required` option is readable, and a referral's key (examples/java/InboundKey.java)
// is the vectors' one. Run by tests/partners/docs_commands_test.sh codegen-java.
import com.google.protobuf.Timestamp;
import java.util.List;
import java.util.UUID;
import org.pathway.v1.ChildIdentity;
import org.pathway.v1.CommandRejected;
import org.pathway.v1.CommonProto;
import org.pathway.v1.Date;
import org.pathway.v1.Envelope;
import org.pathway.v1.MessageOutcome;
import org.pathway.v1.ReferralReason;
import org.pathway.v1.ReferralSubmitted;
import org.pathway.v1.Referrer;
import org.pathway.v1.Source;
import org.pathway.v1.Violation;

public final class RoundTrip {
  static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what);
    }
  }

  public static void main(String[] args) throws Exception {
    Envelope e = Envelope.newBuilder()
        .setEventId(UUID.randomUUID().toString())
        .setOccurredAt(Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000))
        .setSource(Source.newBuilder().setAgency("Y00001").setSystem("roundtrip"))
        .setReferralSubmitted(ReferralSubmitted.newBuilder()
            .setReferralId("RT-1")
            .setChild(ChildIdentity.newBuilder()
                .setNhsNumber("9434765919")  // a documented test number
                .setGivenName("Test").setFamilyName("Child")
                .setDateOfBirth(Date.newBuilder().setYear(2019).setMonth(6).setDay(14)))
            .setReferrer(Referrer.newBuilder().setAgency("Y00001"))
            .setReason(ReferralReason.REFERRAL_REASON_SPEECH_LANGUAGE)
            .setReceivedOn(Date.newBuilder().setYear(2025).setMonth(3).setDay(10)))
        .build();
    Envelope back = Envelope.parseFrom(e.toByteArray());
    check(back.equals(e), "the Envelope did not round-trip");
    check(back.getPayloadCase() == Envelope.PayloadCase.REFERRAL_SUBMITTED, "payload");
    String key = InboundKey.of("nhs", back.getReferralSubmitted().getChild().getNhsNumber());
    check(key.equals("subject-bucket:gmi"), "key " + key);
    check(ChildIdentity.getDescriptor().findFieldByName("nhs_number").getOptions()
              .getExtension(CommonProto.required),
        "the (pathway.v1.required) option is not readable");

    MessageOutcome o = MessageOutcome.newBuilder()
        .setOutcomeId("pathway.inbound.v1/3/42")
        .setInboundEventId(e.getEventId())
        .setRejected(CommandRejected.newBuilder()
            .addViolations(Violation.newBuilder()
                .setField("referral_submitted.child.nhs_number").setRule("nhs_number.modulus11"))
            .addViolations(Violation.newBuilder()
                .setField("referral_submitted.child.date_of_birth").setRule("required"))
            .addViolations(Violation.newBuilder()
                .setField("referral_submitted.reason").setRule("required")))
        .build();
    MessageOutcome backO = MessageOutcome.parseFrom(o.toByteArray());
    check(backO.getResultCase() == MessageOutcome.ResultCase.REJECTED, "result");
    check(backO.getRejected().getViolationsList().stream().map(Violation::getRule).toList()
              .equals(List.of("nhs_number.modulus11", "required", "required")),
        "violations");
    System.out.println("java: Envelope and MessageOutcome round-trip; key " + key);
  }
}
