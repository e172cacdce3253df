#include "workflow/personal_fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <array>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "pathway/v1/common.pb.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kMask = "sealed";

bool Sealable(const FieldDescriptor* f) {
  v1::DataClass c = f->options().GetExtension(v1::data_class);
  return c == v1::DATA_CLASS_PERSONAL || c == v1::DATA_CLASS_FREE_TEXT;
}

bool IsText(const FieldDescriptor* f) {
  return f->type() == FieldDescriptor::TYPE_STRING || f->type() == FieldDescriptor::TYPE_BYTES;
}

// Only our own messages carry classifications (a Timestamp holds no text).
bool Ours(const Descriptor* d) { return d->file()->package().starts_with("pathway."); }

Error NotOpened(std::string_view path, const Error& cause) {
  return Error{cause.code, "sealed field " + std::string(path) + ": " + cause.detail};
}

std::string SealedText(std::string_view sealed) {
  return std::string(kSealedTextPrefix) + Base64Encode(sealed);
}

// What a field's value is as bytes to seal: a string's own, a message serialised.
std::string PlainOf(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (IsText(f)) return r->GetString(m, f);
  if (f->message_type() != nullptr) return r->GetMessage(m, f).SerializeAsString();
  return {};
}

// Whether a message of type `d` can hold a sealable field at any depth, memoised in
// `memo` (cycles count as "no" while being decided, which is right: a cycle adds no field).
bool MayHoldSealable(const Descriptor* d, std::unordered_map<const Descriptor*, bool>& memo) {
  if (auto it = memo.find(d); it != memo.end()) return it->second;
  memo[d] = false;
  bool holds = false;
  for (int i = 0; i < d->field_count() && !holds; ++i) {
    const FieldDescriptor* f = d->field(i);
    holds = Sealable(f) || (f->message_type() != nullptr && Ours(f->message_type()) &&
                            MayHoldSealable(f->message_type(), memo));
  }
  memo[d] = holds;
  return holds;
}

// The message types worth walking into (a Date or a Source is not): decided once.
bool WorthWalking(const Descriptor* d) {
  static const std::unordered_map<const Descriptor*, bool> kHolders = [] {
    std::unordered_map<const Descriptor*, bool> memo;
    MayHoldSealable(v1::Envelope::descriptor(), memo);
    return memo;
  }();
  auto it = kHolders.find(d);
  return it == kHolders.end() ? Ours(d) : it->second;
}

Status Seal(Message& m, const SealFunction& seal, const std::string& path) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (!Sealable(f) && (f->message_type() == nullptr || !WorthWalking(f->message_type()))) {
      continue;  // the common case: a clear scalar, string or message
    }
    std::string here = path + f->name();
    if (!Sealable(f)) {
      if (!f->is_repeated()) {
        if (auto s = Seal(*r->MutableMessage(&m, f), seal, here + "."); !s) return s;
        continue;
      }
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        auto s =
            Seal(*r->MutableRepeatedMessage(&m, f, i), seal, here + "[" + std::to_string(i) + "].");
        if (!s) return s;
      }
      continue;
    }
    const std::string& companion = f->options().GetExtension(v1::sealed_in);
    if (!companion.empty() && !f->is_repeated()) {
      const FieldDescriptor* target = m.GetDescriptor()->FindFieldByName(companion);
      if (target == nullptr || target->type() != FieldDescriptor::TYPE_BYTES) {
        return Error{std::make_error_code(std::errc::invalid_argument),
                     here + ": sealed_in names no bytes field " + companion};
      }
      auto sealed = seal(PlainOf(m, f), here);
      if (!sealed) return sealed.error();
      r->SetString(&m, target, std::move(*sealed));
      r->ClearField(&m, f);
      continue;
    }
    if (!IsText(f)) {
      r->ClearField(&m, f);  // no sealed form to keep it in: it does not leave
      continue;
    }
    if (!f->is_repeated()) {
      auto sealed = seal(r->GetString(m, f), here);
      if (!sealed) return sealed.error();
      r->SetString(&m, f, SealedText(*sealed));
      continue;
    }
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      std::string element = here + "[" + std::to_string(i) + "]";
      auto sealed = seal(r->GetRepeatedString(m, f, i), element);
      if (!sealed) return sealed.error();
      r->SetRepeatedString(&m, f, i, SealedText(*sealed));
    }
  }
  return {};
}

// The plaintext of one in-place sealed string, or the string itself if it is clear.
Result<std::string> OpenText(const std::string& value, const OpenFunction& open,
                             std::string_view path) {
  if (!value.starts_with(kSealedTextPrefix)) return value;
  std::string sealed;
  if (!Base64Decode(std::string_view(value).substr(kSealedTextPrefix.size()), &sealed)) {
    return Error{std::make_error_code(std::errc::illegal_byte_sequence),
                 "sealed field " + std::string(path) + ": not base64"};
  }
  auto clear = open(sealed, path);
  if (!clear) return NotOpened(path, clear.error());
  return clear;
}

Status Open(Message& m, const OpenFunction& open, const std::string& path) {
  const Reflection* r = m.GetReflection();
  const Descriptor* d = m.GetDescriptor();
  // Companions first: a field sealed into one is absent from ListFields.
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string& companion = f->options().GetExtension(v1::sealed_in);
    if (companion.empty() || f->is_repeated() || !Sealable(f)) continue;
    const FieldDescriptor* target = d->FindFieldByName(companion);
    if (target == nullptr || target->type() != FieldDescriptor::TYPE_BYTES) continue;
    std::string sealed = r->GetString(m, target);
    if (sealed.empty()) continue;
    std::string here = path + f->name();
    auto clear = open(sealed, here);
    if (!clear) return NotOpened(here, clear.error());
    if (IsText(f)) {
      r->SetString(&m, f, std::move(*clear));
    } else if (f->message_type() != nullptr) {
      if (!r->MutableMessage(&m, f)->ParseFromString(*clear)) {
        return Error{std::make_error_code(std::errc::illegal_byte_sequence),
                     "sealed field " + here + ": not a " + f->message_type()->full_name()};
      }
    }
    r->ClearField(&m, target);
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    std::string here = path + f->name();
    if (Sealable(f) && IsText(f)) {
      // A field with a companion is never sealed in place: its text is the clear value,
      // whatever it looks like.
      if (!f->options().GetExtension(v1::sealed_in).empty()) continue;
      if (!f->is_repeated()) {
        auto clear = OpenText(r->GetString(m, f), open, here);
        if (!clear) return clear.error();
        r->SetString(&m, f, std::move(*clear));
        continue;
      }
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        auto clear =
            OpenText(r->GetRepeatedString(m, f, i), open, here + "[" + std::to_string(i) + "]");
        if (!clear) return clear.error();
        r->SetRepeatedString(&m, f, i, std::move(*clear));
      }
      continue;
    }
    if (f->message_type() == nullptr || !Ours(f->message_type())) continue;
    if (!f->is_repeated()) {
      if (auto s = Open(*r->MutableMessage(&m, f), open, here + "."); !s) return s;
      continue;
    }
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      auto s =
          Open(*r->MutableRepeatedMessage(&m, f, i), open, here + "[" + std::to_string(i) + "].");
      if (!s) return s;
    }
  }
  return {};
}

}  // namespace

Status SealPersonalFields(v1::Envelope& event, const SealFunction& seal) {
  if (event.has_referral_received() && event.referral_received().has_date_of_birth()) {
    // The stand-in reporting uses once the date of birth is sealed.
    v1::ReferralReceived* referral = event.mutable_referral_received();
    auto dob = ToCivil(referral->date_of_birth());
    auto received = ToCivil(referral->received_on());
    if (dob && received) referral->set_age_years(static_cast<uint32_t>(AgeOn(*dob, *received)));
  }
  return Seal(event, seal, "");
}

Status OpenPersonalFields(Message& message, const OpenFunction& open, std::string_view path) {
  return Open(message, open, std::string(path));
}

void MaskSealedFields(Message& message) {
  // Companions (SEALED bytes) and in-place sealed strings alike.
  const Reflection* r = message.GetReflection();
  const Descriptor* d = message.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->options().GetExtension(v1::data_class) == v1::DATA_CLASS_SEALED && !f->is_repeated() &&
        !r->GetString(message, f).empty()) {
      r->SetString(&message, f, std::string(kMask));
    }
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    if (Sealable(f) && IsText(f)) {
      for (int i = 0; i < (f->is_repeated() ? r->FieldSize(message, f) : 1); ++i) {
        std::string value =
            f->is_repeated() ? r->GetRepeatedString(message, f, i) : r->GetString(message, f);
        if (!value.starts_with(kSealedTextPrefix)) continue;
        if (f->is_repeated()) {
          r->SetRepeatedString(&message, f, i, std::string(kMask));
        } else {
          r->SetString(&message, f, std::string(kMask));
        }
      }
      continue;
    }
    if (f->message_type() == nullptr || !Ours(f->message_type())) continue;
    if (!f->is_repeated()) {
      MaskSealedFields(*r->MutableMessage(&message, f));
      continue;
    }
    for (int i = 0; i < r->FieldSize(message, f); ++i) {
      MaskSealedFields(*r->MutableRepeatedMessage(&message, f, i));
    }
  }
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                 uint32_t{static_cast<uint8_t>(bytes[i + 2])};
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) n |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  std::array<int, 256> value;
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) value[static_cast<uint8_t>(kAlphabet[i])] = int(i);
  std::string decoded;
  decoded.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      int v = value[static_cast<uint8_t>(c)];
      if (v < 0) return false;
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    decoded += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) decoded += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) decoded += static_cast<char>(n & 0xff);
  }
  *out = std::move(decoded);
  return true;
}

}  // namespace pathway::workflow
