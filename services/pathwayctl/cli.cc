#include "services/pathwayctl/cli.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>

#include "workflow/sharing.h"

namespace pathway::ctl {

std::function<std::optional<std::string>(std::string_view)> Store(std::string& out) {
  return [&out](std::string_view v) {
    out = v;
    return std::optional<std::string>();
  };
}

std::optional<std::string> ParseArgs(std::span<char* const> args, const std::vector<Flag>& flags,
                                     std::vector<std::string>& positional) {
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (flags_done || arg == "-" || !arg.starts_with("-")) {
      positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (arg.starts_with("--")) {
      if (size_t eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      }
    } else if (arg.size() > 2) {  // -Xkey=value
      name = arg.substr(0, 2);
      value = arg.substr(2);
    }
    auto flag =
        std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == flags.end()) return "unknown flag '" + std::string(name) + "'";
    if (!flag->takes_value) {
      if (value) return std::string(name) + " takes no value";
      if (auto error = flag->apply({})) return error;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return std::string(name) + " needs a value";
      value = args[++i];
    }
    if (auto error = flag->apply(*value)) return std::string(name) + ": " + *error;
  }
  return std::nullopt;
}

std::optional<int64_t> ParsePositiveInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 1) return std::nullopt;
  return value;
}

std::optional<double> ParsePositiveSeconds(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !(value > 0) || value > 86400.0 * 365) return std::nullopt;
  return value;
}

void PrintErr(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "pathwayctl %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
}

int UsageError(std::string_view command, std::string_view message) {
  PrintErr(command, message);
  std::fprintf(stderr, "run 'pathwayctl %.*s --help' for usage\n", static_cast<int>(command.size()),
               command.data());
  return kExitUsage;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Reads all of `path` ("-": stdin) into `out`. Plain stdio: GCC 12 flags
// istreambuf_iterator with a false -Wnull-dereference.
std::optional<std::string> ReadInput(const std::string& path, std::string& out) {
  const bool from_stdin = path == "-";
  std::FILE* in = from_stdin ? stdin : std::fopen(path.c_str(), "rb");
  if (in == nullptr) return "cannot read '" + path + "'";
  char chunk[65536];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, in)) > 0) out.append(chunk, n);
  const bool failed = std::ferror(in) != 0;
  if (!from_stdin) std::fclose(in);
  if (failed) return "error reading '" + (from_stdin ? std::string("stdin") : path) + "'";
  return std::nullopt;
}

std::optional<std::string> ParseEnvelopeJson(std::string_view line, pathway::v1::Envelope& out) {
  const google::protobuf::util::Status status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &out);
  if (status.ok()) return std::nullopt;
  const auto message = status.message();
  return std::string(message.data(), message.size());
}

std::string TailJson(std::string_view value, int32_t partition, int64_t offset) {
  pathway::v1::Envelope envelope;
  std::string json;
  if (value.size() > static_cast<size_t>(INT_MAX) ||
      !envelope.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      !google::protobuf::util::MessageToJsonString(envelope, &json).ok()) {
    json = "{\"undecodable\":true,\"partition\":" + std::to_string(partition) +
           ",\"offset\":" + std::to_string(offset) + ",\"bytes\":" + std::to_string(value.size()) +
           "}";
  }
  return json;
}

std::optional<std::string> LoadStatutorySharing(const std::string& path,
                                                pathway::config::v1::StatutorySharing& out) {
  std::string text;
  if (auto error = ReadInput(path, text)) return *error;
  auto parsed = workflow::ParseStatutorySharing(text);
  if (!parsed) return path + ": " + parsed.error().detail;
  out = std::move(*parsed);
  return std::nullopt;
}

}  // namespace pathway::ctl
