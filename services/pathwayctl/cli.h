// Small command-line helpers shared by pathwayctl's subcommands.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pathway/config/v1/config.pb.h"
#include "pathway/v1/envelope.pb.h"

namespace pathway::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Flag parsing: `--flag value`, `--flag=value`, `-X value`, `-Xvalue`; `--` ends flags;
// `-` alone is a positional argument (stdin).
struct Flag {
  std::string_view name;
  bool takes_value;
  // Applies the flag; returns an error message on a bad value.
  std::function<std::optional<std::string>(std::string_view value)> apply;
};

// Handlers for the common flag shapes.
std::function<std::optional<std::string>(std::string_view)> Store(std::string& out);
template <class T>
std::function<std::optional<std::string>(std::string_view)> Set(T& out, T value) {
  return [&out, value](std::string_view) {
    out = value;
    return std::optional<std::string>();
  };
}

// Applies `flags` to `args`; other arguments go to `positional`. Returns an error message.
std::optional<std::string> ParseArgs(std::span<char* const> args, const std::vector<Flag>& flags,
                                     std::vector<std::string>& positional);
std::optional<int64_t> ParsePositiveInt(std::string_view text);
std::optional<double> ParsePositiveSeconds(std::string_view text);

// "pathwayctl COMMAND: message" on stderr.
void PrintErr(std::string_view command, std::string_view message);
// PrintErr plus a pointer to --help; returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);
std::string_view Trim(std::string_view s);
// Reads all of `path` ("-": stdin) into `out`; an error message on failure.
std::optional<std::string> ReadInput(const std::string& path, std::string& out);

// Parses one line of protobuf JSON mapping into `out`; the parser's message on failure.
std::optional<std::string> ParseEnvelopeJson(std::string_view line, pathway::v1::Envelope& out);

// The line `pathwayctl tail` prints for a message value (without the newline): the
// Envelope in protobuf's JSON mapping, or {"undecodable":true,...} naming the message's
// partition, offset and size when it does not decode or print.
std::string TailJson(std::string_view value, int32_t partition, int64_t offset);

// Reads and checks a statutory sharing file (--statutory-sharing; workflow/sharing.h)
// into `out`; on failure "FILE: " and the error naming the rule and field.
std::optional<std::string> LoadStatutorySharing(const std::string& path,
                                                pathway::config::v1::StatutorySharing& out);

}  // namespace pathway::ctl
