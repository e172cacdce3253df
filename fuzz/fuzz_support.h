// Shared by the libFuzzer targets (docs/fuzzing.md): the fixed subject-key secret,
// the fixed "now", and how a broken invariant is reported (an abort, which libFuzzer
// records as a crash with its input).
#pragma once

#include <google/protobuf/stubs/logging.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/time_source.h"

namespace pathway::fuzz {

// The deployment's HMAC secret is 32 bytes; any fixed value will do here.
inline constexpr std::string_view kSubjectSecret = "pathway-fuzz-subject-key-secret!";
static_assert(kSubjectSecret.size() == 32);

// The engine's SubjectKeyer::Key (services/engine/subject_keyer.cc) under the fixed
// secret: 64 lowercase hex characters.
inline std::string SubjectKey(std::string_view id) {
  return HexEncode(HmacSha256(kSubjectSecret, id));
}

// 2026-06-01T12:00:00Z: after every date in the seed histories, so their commands are
// not "in the future"; fixed so that every run of an input decides the same.
inline TimePoint FixedNow() {
  using namespace std::chrono;
  return time_point_cast<microseconds>(sys_days{year{2026} / June / 1} + hours{12});
}

// libFuzzer calls this once before any input (each target defines it): protobuf logs
// every string field with invalid UTF-8 it refuses, which would drown the fuzzer's
// output and slow it down.
inline void Initialize() { google::protobuf::SetLogHandler(nullptr); }

// An invariant the code under test promises was broken: abort, so that libFuzzer
// keeps the input as a crash.
[[noreturn]] inline void Fail(const char* target, std::string_view what) {
  std::fprintf(stderr, "%s: invariant broken: %.*s\n", target, static_cast<int>(what.size()),
               what.data());
  std::abort();
}

}  // namespace pathway::fuzz
