// Whether any file under a directory holds some bytes: the erasure and sealing tests'
// proof that nothing is left on disk (write-ahead logs, SST files, manifests).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace pathway::testing {

inline bool AnyFileContains(const std::string& dir, std::string_view needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes(entry.file_size(), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace pathway::testing
