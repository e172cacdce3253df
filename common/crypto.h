// Hashing, keyed hashing and authenticated encryption (OpenSSL). Thread-safe; no shared state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pathway {

std::string Sha256(std::string_view data);                            // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::string HexEncode(std::string_view bytes);
// Equality that takes the same time wherever the first difference is (secrets, tokens).
// The length is not hidden.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Returns false if `hex` is not an even-length string of hex digits.
bool HexDecode(std::string_view hex, std::string* out);
// `n` bytes from the operating system's CSPRNG (OpenSSL RAND_bytes).
Result<std::string> RandomBytes(size_t n);

// The id of the `index`-th event emitted because of inbound event `cause_id`: the same
// inputs always give the same id, so a re-send after a crash repeats ids that
// consumers can dedupe. 32 lowercase hex characters.
std::string DerivedEventId(std::string_view cause_id, uint32_t index);

// Authenticated encryption with AES-256-GCM, for personal fields under a per-subject
// data key (crypto-shredding: destroying the key makes every copy unreadable).
// Sealed form: nonce (12 random bytes) || ciphertext || tag (16 bytes). `aad` (e.g. the
// subject key and the field's name) is authenticated, not stored: Open needs the same,
// so a sealed value cannot be moved to another subject or field unnoticed.
inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;
// Fails only on a key that is not 32 bytes or a CSPRNG failure.
Result<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                             std::string_view aad);
// As AeadSeal with the caller's nonce: for known-answer tests. Never seal twice with one
// nonce and one key (GCM then leaks the plaintexts' XOR and the authentication key).
Result<std::string> AeadSealWithNonce(std::string_view key, std::string_view nonce,
                                      std::string_view plaintext, std::string_view aad);
// Deterministic sealing (a synthetic nonce, as in SIV): the nonce is a keyed hash, under
// a key derived from `key`, of `aad`, `context` and `plaintext`. The same four inputs
// always give the same bytes, so a value sealed again after a crash (a re-decided
// command) repeats its first copy byte for byte. The nonce repeats only where all the
// inputs repeat, so GCM's one-nonce-one-message rule holds; what leaks is only that
// two sealings of one plaintext in one context are equal. `context` should name the
// occasion (e.g. the id of the event the value goes out in).
Result<std::string> AeadSealSynthetic(std::string_view key, std::string_view plaintext,
                                      std::string_view aad, std::string_view context);
// The plaintext, or an error (the same for a wrong key, other aad, or any changed byte;
// the reason is deliberately not distinguished).
Result<std::string> AeadOpen(std::string_view key, std::string_view sealed, std::string_view aad);

}  // namespace pathway
