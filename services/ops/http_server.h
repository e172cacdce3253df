// A minimal HTTP/1.1 server for operations: Prometheus metrics and health probes.
//
//   GET|HEAD /metrics       200, Content-Type `text/plain; version=0.0.4; charset=utf-8`,
//                           body = handlers.metrics()
//   GET|HEAD /health/live   200 "live\n" if handlers.live(), else 503 "not live\n"
//   GET|HEAD /health/ready  200 "ready\n" (or "ready: <ready_notes()>\n") if
//                           handlers.ready(), else 503 "not ready\n"
//                           (or "not ready: <ready_detail()>\n", detail cut at 1 KiB)
//   any other path          404
//   any other method        405 with `Allow: GET, HEAD` (checked before the path)
//   a handler that throws   500 (the exception stops at the server)
// A query string is ignored. Keep-alive is honoured.
//
// Threading: Boost.Asio runs on one thread owned by the server; the handlers are called
// on that thread, one at a time, concurrently with the rest of the program, so they must
// be thread-safe (read atomics, or Registry::Render) and quick: a slow handler delays
// every other request. Boost headers stay out of this header.
//
// Limits, so a slow or hostile client cannot hold the server: each request must arrive
// within `read_timeout` (each response be taken within it too), a kept-alive connection
// is closed after `idle_timeout` without a next request, request headers and body are
// each limited to `max_request_bytes` (431 / 413, then the connection is closed), and at
// most `max_connections` are open at once, at most `max_connections_per_client` from
// one client address. A connection beyond a limit is admitted by closing the connection
// (of that client, else of any) that has waited longest for a request; it is refused
// (closed on accept) only when every connection counted against the limit is busy
// answering a request. So idle or slow clients cannot keep `/health/live` and
// `/health/ready` from being answered: a probe's connection is the newest, and would
// only be closed before its request arrived if `max_connections` more connections
// arrived first.
//
// Logging: one debug line per request with the method, the route (`other` for an unknown
// path, so nothing the client sent is logged) and the status; never headers or bodies.
//
// Shutdown: the destructor stops the I/O thread and joins it. Open connections are
// closed without waiting for them, so it returns as soon as the handler running at that
// moment (if any) returns. Never destroy the server from one of its own handlers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "common/result.h"

namespace pathway::ops {

enum class errc {
  kOk = 0,
  kInvalidArgument = 1,  // a bad address or a missing handler
  kBind = 2,             // the address could not be bound or listened on
  kInternal = 3,         // an unexpected failure while starting (e.g. no thread)
};
const std::error_category& ops_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), ops_category()}; }

struct Handlers {
  std::function<std::string()> metrics;       // required: the exposition text
  std::function<bool()> live;                 // required
  std::function<bool()> ready;                // required
  std::function<std::string()> ready_detail;  // optional: why not ready (no personal data)
  // Optional: what operators must know while ready, e.g. an erasure still to finish
  // (no personal data); cut at 1 KiB like the detail.
  std::function<std::string()> ready_notes;
};

struct HttpServerOptions {
  std::chrono::milliseconds read_timeout{10'000};
  std::size_t max_request_bytes = 8 * 1024;
  std::size_t max_connections = 64;
  std::size_t max_connections_per_client = 8;
  std::chrono::milliseconds idle_timeout{5'000};
};

class HttpServer {
 public:
  // Binds `address` (a numeric IPv4 or IPv6 address, e.g. "127.0.0.1", "0.0.0.0", "::")
  // on `port` (0 picks a free port; see port()) and starts serving. Errors:
  // kInvalidArgument (bad address, missing handler, zero limit), kBind (in use,
  // not permitted), kInternal.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& address, uint16_t port,
                                                   Handlers handlers,
                                                   HttpServerOptions options = {});

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port.
  uint16_t port() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathway::ops

template <>
struct std::is_error_code_enum<pathway::ops::errc> : std::true_type {};
