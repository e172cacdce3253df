// The Kafka key of a message a partner sends to pathway.inbound.v1 (docs/partners.md).
//
// One child's messages must stay in order on one partition, yet a key must not be
// personal data. The key is a coarse bucket of the child's identifier:
//
//   "subject-bucket:" + three letters 'a'..'p'
//
// spelling, 4 bits per letter (most significant first), the top 12 bits of
// SHA-256("pathway inbound subject bucket v1\n" + kind + ":" + identifier), UTF-8. The
// kind and identifier are the first present of: subject.nhs_number ("nhs"),
// referral_submitted.child.nhs_number ("nhs"), subject.upn ("upn"), subject.local_id
// ("local"), else the event id ("event"). 4,096 buckets, no digits, no secret: a key
// names nobody and every partner computes the same one. The JDK only;
// examples/inbound_key_vectors.json is the reference.
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Set;

public final class InboundKey {
  public static final String DOMAIN = "pathway inbound subject bucket v1\n";
  public static final String PREFIX = "subject-bucket:";
  public static final Set<String> KINDS = Set.of("nhs", "upn", "local", "event");

  private InboundKey() {}

  /** The key for a message about the child `identifier` of the given kind. */
  public static String of(String kind, String identifier) {
    if (!KINDS.contains(kind)) {
      throw new IllegalArgumentException("unknown identifier kind " + kind);
    }
    byte[] digest;
    try {
      digest = MessageDigest.getInstance("SHA-256")
          .digest((DOMAIN + kind + ":" + identifier).getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
    int bucket = (((digest[0] & 0xFF) << 8) | (digest[1] & 0xFF)) >>> 4;  // the top 12 bits
    StringBuilder key = new StringBuilder(PREFIX);
    for (int shift = 8; shift >= 0; shift -= 4) {
      key.append((char) ('a' + ((bucket >>> shift) & 0xF)));
    }
    return key.toString();
  }
}
