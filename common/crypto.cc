#include "common/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>
#include <memory>

namespace pathway {
namespace {

// OpenSSL 3 looks an algorithm up in its provider on every call given EVP_sha256() or
// EVP_aes_256_gcm() (an implicit fetch, a third of a short hash's cost); fetched once,
// the implementations are reused. Thread-safe: initialised once, then only read. Null
// if the default provider lacks them, and then the implicit forms are used.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md ? md : EVP_sha256();
}
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher ? cipher : EVP_aes_256_gcm();
}

// SHA-256 of `data` into `out` (32 bytes); the length written. One digest context per
// thread, reset for each digest: EVP_Digest allocates and frees one on every call, and
// a decision hashes an id for every event it makes.
unsigned int Sha256Into(std::string_view data, unsigned char* out) {
  using Context = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
  thread_local Context ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) {
    EVP_Digest(data.data(), data.size(), out, &len, Sha256Md(), nullptr);
  }
  return len;
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  const unsigned int len = Sha256Into(data, out);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(Sha256Md(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes.push_back(static_cast<char>((hi << 4) | lo));
  }
  *out = std::move(bytes);
  return true;
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Result<std::string>(std::make_error_code(std::errc::io_error), "RAND_bytes failed");
  }
  return out;
}

std::string DerivedEventId(std::string_view cause_id, uint32_t index) {
  // Length-prefix the cause so that ("ab", 1) and ("a", ...) can never collide.
  constexpr std::string_view kPrefix = "pathway.v1.derived|";
  const std::string size = std::to_string(cause_id.size());
  const std::string number = std::to_string(index);
  std::string input;
  input.reserve(kPrefix.size() + size.size() + cause_id.size() + number.size() + 2);
  input.append(kPrefix).append(size).append(1, '|').append(cause_id).append(1, '|');
  input.append(number);
  unsigned char digest[EVP_MAX_MD_SIZE];
  Sha256Into(input, digest);
  // The first 16 bytes, in hex.
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), 16));
}

namespace {
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Error CryptoError(std::string what) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(what)};
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int Size(std::string_view s) { return static_cast<int>(s.size()); }
}  // namespace

Result<std::string> AeadSealWithNonce(std::string_view key, std::string_view nonce,
                                      std::string_view plaintext, std::string_view aad) {
  if (key.size() != kAeadKeyBytes) return CryptoError("AES-256-GCM needs a 32-byte key");
  if (nonce.size() != kAeadNonceBytes) return CryptoError("AES-256-GCM needs a 12-byte nonce");
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string out(nonce);
  out.resize(kAeadNonceBytes + plaintext.size() + kAeadTagBytes);
  auto* cipher = reinterpret_cast<unsigned char*>(out.data()) + kAeadNonceBytes;
  int len = 0;
  int total = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), Size(aad)) != 1) ||
      EVP_EncryptUpdate(ctx.get(), cipher, &len, Bytes(plaintext), Size(plaintext)) != 1) {
    return CryptoError("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagBytes),
                          cipher + plaintext.size()) != 1) {
    return CryptoError("AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                             std::string_view aad) {
  // Random 96-bit nonces: safe for far more values per key than one subject's record
  // will ever hold (NIST SP 800-38D keeps the collision risk below 2^-32 up to 2^32).
  auto nonce = RandomBytes(kAeadNonceBytes);
  if (!nonce) return nonce.error();
  return AeadSealWithNonce(key, *nonce, plaintext, aad);
}

Result<std::string> AeadSealSynthetic(std::string_view key, std::string_view plaintext,
                                      std::string_view aad, std::string_view context) {
  if (key.size() != kAeadKeyBytes) return CryptoError("AES-256-GCM needs a 32-byte key");
  // A separate key for the nonces, so the data key serves one primitive only.
  const std::string nonce_key = HmacSha256(key, "pathway.aead.synthetic-nonce.v1");
  // Length-prefixed, so no two different (aad, context) splits hash alike.
  std::string input;
  for (std::string_view part : {aad, context}) {
    const uint64_t n = part.size();
    for (int i = 7; i >= 0; --i) input.push_back(static_cast<char>(n >> (8 * i)));
    input.append(part);
  }
  input.append(plaintext);
  const std::string nonce = HmacSha256(nonce_key, input).substr(0, kAeadNonceBytes);
  return AeadSealWithNonce(key, nonce, plaintext, aad);
}

Result<std::string> AeadOpen(std::string_view key, std::string_view sealed, std::string_view aad) {
  if (key.size() != kAeadKeyBytes) return CryptoError("AES-256-GCM needs a 32-byte key");
  if (sealed.size() < kAeadNonceBytes + kAeadTagBytes) return CryptoError("sealed value too short");
  const std::string_view nonce = sealed.substr(0, kAeadNonceBytes);
  const std::string_view cipher =
      sealed.substr(kAeadNonceBytes, sealed.size() - kAeadNonceBytes - kAeadTagBytes);
  std::string tag(sealed.substr(sealed.size() - kAeadTagBytes));
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string out(cipher.size(), '\0');
  int len = 0;
  int total = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), Aes256Gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), Size(aad)) != 1) ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        Bytes(cipher), Size(cipher)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagBytes),
                          tag.data()) != 1) {
    return CryptoError("sealed value does not open");
  }
  total = len;
  // The tag is checked here: nothing decrypted is returned unless it matches.
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) !=
      1) {
    return CryptoError("sealed value does not open");
  }
  return out;
}

}  // namespace pathway
