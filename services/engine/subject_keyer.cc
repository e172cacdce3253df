#include "services/engine/subject_keyer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace pathway::engine {
namespace {
constexpr size_t kSecretBytes = 32;

Result<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{std::make_error_code(std::errc::no_such_file_or_directory), path};
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::string secret;
  if (!HexDecode(text, &secret) || secret.size() != kSecretBytes) {
    return Error{std::make_error_code(std::errc::invalid_argument),
                 path + ": expected 64 hex digits (a 32-byte secret)"};
  }
  return secret;
}

Status WriteNewSecret(const std::string& path, const std::string& secret) {
  // O_EXCL: never overwrite a secret, even if two instances start at once.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Error{std::error_code(errno, std::generic_category()), path};
  std::string text = HexEncode(secret) + "\n";
  ssize_t n = ::write(fd, text.data(), text.size());
  int fsync_rc = ::fsync(fd);
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()) || fsync_rc != 0) {
    return Error{std::make_error_code(std::errc::io_error), path};
  }
  return {};
}
}  // namespace

Result<std::string> LoadSecret(const std::string& file, const std::string& data_dir,
                               const std::string& name, bool* created) {
  *created = false;
  if (!file.empty()) return ReadSecret(file);
  std::string path = data_dir + "/" + name;
  if (::access(path.c_str(), F_OK) == 0) return ReadSecret(path);
  auto secret = RandomBytes(kSecretBytes);
  if (!secret) return secret.error();
  if (auto s = WriteNewSecret(path, *secret); !s) return s.error();
  *created = true;
  return secret;
}

Result<SubjectKeyer> SubjectKeyer::Load(const std::string& key_file, const std::string& data_dir,
                                        bool* created) {
  auto secret = LoadSecret(key_file, data_dir, "subject-key", created);
  if (!secret) return secret.error();
  return SubjectKeyer(std::move(*secret));
}

std::string SubjectKeyer::Key(std::string_view nhs_number) const {
  return HexEncode(HmacSha256(secret_, nhs_number));
}

}  // namespace pathway::engine
