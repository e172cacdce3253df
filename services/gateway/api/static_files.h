// The web app's files (web/dist, built by npm: docs/gateway.md "The web app"), served
// by the gateway without sign-in: they are the same for everyone and hold no data.
//
//   GET|HEAD /              DIR/index.html
//   GET|HEAD /a/b.css       DIR/a/b.css
//
// Only regular files inside DIR whose extension has a known media type are served; a
// path with an empty, "." or ".." segment, a segment starting with '.', a character
// outside [A-Za-z0-9._/-] (so no percent-encoding either), a trailing '/' (no directory
// listings), a symbolic link that resolves outside DIR, or an unknown extension is the
// gateway's 404 problem. Other methods are 405 (Allow: GET, HEAD).
//
// Caching: HTML `no-store` (a page may change with every release and holds the
// script references); files under /assets/ (GOV.UK Frontend's versioned CSS, JS,
// fonts and images) a year, `immutable`; anything else (the app's own modules)
// `no-cache`. The gateway adds its security headers (CSP `default-src 'self'`) to
// every answer.
//
// Files are read on each request (no cache in memory), so a rebuild of the web app is
// served at once. Thread-safe: Serve is const.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

class StaticFiles {
 public:
  // `root` should be a directory; if it cannot be resolved every path is 404.
  explicit StaticFiles(const std::string& root);

  HttpResponse Serve(const HttpRequest& request) const;

  // The media type for a file name by its extension, empty if such files are not served.
  static std::string_view ContentType(std::string_view name);
  // Whether `relative` (no leading '/') is a path this server may look up at all.
  static bool SafeRelativePath(std::string_view relative);

  static constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;

 private:
  std::filesystem::path root_;  // canonical; empty if the directory could not be resolved
};

}  // namespace pathway::gateway
