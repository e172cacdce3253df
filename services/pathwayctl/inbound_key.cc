#include "services/pathwayctl/inbound_key.h"

#include "common/crypto.h"

namespace pathway::ctl {

std::string InboundKey(const pathway::v1::Envelope& envelope) {
  // The kind is hashed with the value, so that an identifier of one kind that happens
  // to equal one of another kind (a local id "9434765919") is a different input.
  std::string input(kInboundKeyDomain);
  if (!envelope.subject().nhs_number().empty()) {
    input += "nhs:" + envelope.subject().nhs_number();
  } else if (!envelope.referral_submitted().child().nhs_number().empty()) {
    input += "nhs:" + envelope.referral_submitted().child().nhs_number();
  } else if (!envelope.subject().upn().empty()) {
    input += "upn:" + envelope.subject().upn();
  } else if (!envelope.subject().local_id().empty()) {
    input += "local:" + envelope.subject().local_id();
  } else {
    input += "event:" + envelope.event_id();
  }
  const std::string digest = Sha256(input);
  const unsigned bucket =
      ((static_cast<unsigned char>(digest[0]) << 8) | static_cast<unsigned char>(digest[1])) >>
      (16 - kInboundKeyBits);
  // Letters, not digits: the key never shows a run of any identifier's digits.
  std::string key(kInboundKeyPrefix);
  for (int shift = kInboundKeyBits - 4; shift >= 0; shift -= 4) {
    key += static_cast<char>('a' + ((bucket >> shift) & 0xF));
  }
  return key;
}

}  // namespace pathway::ctl
