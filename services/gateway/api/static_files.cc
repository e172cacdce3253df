#include "services/gateway/api/static_files.h"

#include <array>
#include <fstream>
#include <utility>

#include "services/gateway/http/problem.h"

namespace pathway::gateway {
namespace fs = std::filesystem;
namespace {

HttpResponse NotFound() {
  return ProblemResponse(MakeProblem(404, "Not found", "route.unknown", "no such resource"));
}

bool AllowedChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/';
}

}  // namespace

StaticFiles::StaticFiles(const std::string& root) {
  std::error_code ec;
  fs::path canonical = fs::canonical(root, ec);
  if (!ec && fs::is_directory(canonical, ec) && !ec) root_ = std::move(canonical);
}

std::string_view StaticFiles::ContentType(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  const std::string_view extension = base.substr(dot);
  for (const auto& [ext, type] : kTypes) {
    if (ext == extension) return type;
  }
  return {};
}

bool StaticFiles::SafeRelativePath(std::string_view relative) {
  if (relative.empty() || relative.size() > 1024) return false;
  for (char c : relative) {
    if (!AllowedChar(c)) return false;
  }
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    const std::string_view segment = relative.substr(start, end - start);
    // Empty (a "//" or a trailing '/': no listings), ".", ".." and hidden files.
    if (segment.empty() || segment.front() == '.') return false;
    start = end + 1;
  }
  return true;
}

HttpResponse StaticFiles::Serve(const HttpRequest& req) const {
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = ProblemResponse(MakeProblem(
        405, "Method not allowed", "http.method_not_allowed", "this resource answers GET"));
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (root_.empty() || !req.path.starts_with("/")) return NotFound();
  const std::string relative = req.path == "/" ? "index.html" : req.path.substr(1);
  if (!SafeRelativePath(relative)) return NotFound();
  const std::string_view type = ContentType(relative);
  if (type.empty()) return NotFound();

  // The file as the kernel resolves it (symbolic links followed), which must still be
  // inside the root.
  std::error_code ec;
  const fs::path real = fs::canonical(root_ / relative, ec);
  if (ec) return NotFound();
  const std::string& root = root_.native();
  if (!real.native().starts_with(root) || real.native().size() <= root.size() ||
      real.native()[root.size()] != '/') {
    return NotFound();
  }
  if (!fs::is_regular_file(real, ec) || ec) return NotFound();
  const auto size = fs::file_size(real, ec);
  if (ec || size > kMaxFileBytes) return NotFound();
  std::ifstream in(real, std::ios::binary);
  if (!in) return NotFound();
  HttpResponse r;
  r.body.resize(static_cast<size_t>(size));
  if (!in.read(r.body.data(), static_cast<std::streamsize>(size))) return NotFound();
  r.headers.emplace_back("Content-Type", std::string(type));
  std::string cache = "no-cache";
  if (type.starts_with("text/html")) {
    cache = "no-store";
  } else if (relative.starts_with("assets/")) {
    cache = "public, max-age=31536000, immutable";
  }
  r.headers.emplace_back("Cache-Control", std::move(cache));
  return r;
}

}  // namespace pathway::gateway
