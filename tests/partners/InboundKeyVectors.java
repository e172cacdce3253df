// examples/java/InboundKey.java gives every key of examples/inbound_key_vectors.json
// (checked against the engine's implementation by
// tests/services/pathwayctl/inbound_key_test.cc).   usage: java InboundKeyVectors FILE
//
// The file has one vector per line; the JDK has no JSON parser, so each line is matched
// with a pattern, and a line with a "kind" that the pattern misses fails the test.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class InboundKeyVectors {
  private static final Pattern VECTOR = Pattern.compile(
      "\\{\"kind\": \"([a-z]+)\", \"identifier\": \"([^\"\\\\]*)\", \"key\": \"([a-z:-]+)\", "
      + "\"note\": \"([^\"\\\\]*)\"\\}");

  public static void main(String[] args) throws Exception {
    int passed = 0;
    int failed = 0;
    Set<String> kinds = new HashSet<>();
    for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
      if (!line.contains("\"kind\"")) {
        continue;
      }
      Matcher m = VECTOR.matcher(line);
      if (!m.find()) {
        System.out.println("FAIL: a vector line this test cannot read: " + line.strip());
        failed++;
        continue;
      }
      kinds.add(m.group(1));
      String got = InboundKey.of(m.group(1), m.group(2));
      if (got.equals(m.group(3))) {
        passed++;
      } else {
        System.out.println("FAIL: " + m.group(4) + ": " + got + ", expected " + m.group(3));
        failed++;
      }
    }
    if (passed + failed < 10 || !kinds.equals(Set.of("nhs", "upn", "local", "event"))) {
      System.out.println("FAIL: " + (passed + failed) + " vectors of kinds " + kinds
          + ": expected 10 or more, of every kind");
      failed++;
    }
    System.out.println(passed + " passed, " + failed + " failed");
    System.exit(failed == 0 ? 0 : 1);
  }
}
