#include "services/pathwayctl/backup_files.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/crypto.h"

namespace pathway::ctl {
namespace {

Error IoError(const std::string& path, std::string_view what) {
  return Error{std::make_error_code(std::errc::io_error),
               path + ": " + std::string(what) + " (" + std::strerror(errno) + ")"};
}

Error Invalid(std::string message) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)};
}

}  // namespace

std::string KeyCheck(std::string_view secret, std::string_view label) {
  return HexEncode(HmacSha256(secret, label));
}

std::string BackupStoreDir(const std::string& backup, int32_t partition) {
  return backup + "/state/partition-" + std::to_string(partition);
}

std::string BackupPartitionFile(const std::string& backup, int32_t partition) {
  return backup + "/partition-" + std::to_string(partition) + ".json";
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError(dir, "cannot open the directory to sync it");
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return IoError(dir, "cannot sync the directory");
  return {};
}

Status WriteFileDurably(const std::string& path, std::string_view text) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(temporary, "cannot create");
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return IoError(temporary, "cannot write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return IoError(temporary, "cannot sync");
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) return IoError(path, "cannot rename into");
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

Status WriteJsonFile(const std::string& path, const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  // Counts of 0 and empty checks say something in a manifest: print them.
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return Invalid(path + ": cannot print the JSON");
  }
  return WriteFileDurably(path, json);
}

Status ReadJsonFile(const std::string& path, google::protobuf::Message& message) {
  std::ifstream in(path);
  if (!in) return Invalid(path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &message);
  if (!parsed.ok()) {
    return Invalid(path + ": does not read as a " + message.GetDescriptor()->name() + " (" +
                   std::string(parsed.message()) + ")");
  }
  return {};
}

google::protobuf::Timestamp ToTimestamp(TimePoint at) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(at.time_since_epoch().count());
}

std::string TimestampText(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

Result<pathway::store::v1::BackupManifest> ReadManifest(const std::string& backup) {
  std::error_code ec;
  const std::string path = backup + "/" + std::string(kManifestFile);
  if (!std::filesystem::exists(path, ec)) {
    if (std::filesystem::exists(backup + "/" + std::string(kBackupIncompleteFile), ec)) {
      return Invalid(backup +
                     " is a backup that did not finish (no manifest.json): run the same "
                     "pathwayctl backup again to finish it, or use another backup");
    }
    return Invalid(backup + " holds no backup (no manifest.json)");
  }
  pathway::store::v1::BackupManifest manifest;
  if (Status s = ReadJsonFile(path, manifest); !s) return s.error();
  if (manifest.format() != kBackupFormat) {
    return Invalid(path + ": format " + std::to_string(manifest.format()) +
                   ", this pathwayctl reads format " + std::to_string(kBackupFormat));
  }
  if (manifest.backup_id().empty() || manifest.partitions().empty()) {
    return Invalid(path + ": names no backup id or no partition");
  }
  return manifest;
}

}  // namespace pathway::ctl
