// The gateway's HTTP/1.1 server (Boost.Asio/Beast, asynchronous): it reads requests,
// hands each to one Handler and writes the answer the handler sends, possibly later
// and from another thread (a request that waits for the engine, `Prefer: wait=N`).
//
// Contract
// - One request at a time per connection (no pipelining): the next request of a
//   kept-alive connection is read only after the previous response is written.
// - Limits, so that a slow or hostile client cannot hold the server: the request line
//   and headers within `max_header_bytes` (431), the body within `max_body_bytes`
//   (413; a Content-Length over it is refused before the body is read), a whole
//   request within `read_timeout` (408, then close), each response taken by the client
//   within `write_timeout`, a kept-alive connection closed after `idle_timeout`
//   without a next request, at most `max_connections` open (`max_connections_per_client`
//   per client address); beyond a limit the connection that has waited longest for a
//   request is closed, else the new one is closed on accept. A request the parser
//   cannot read gets 400 and the connection is closed. The server answers these
//   itself, with `application/problem+json` bodies (RFC 9457) naming the limit.
// - The server never logs headers, bodies, query strings or paths (they may hold
//   personal data): at most the method and the status.
// - Shutdown(grace): stops accepting at once; requests already read are answered (their
//   handlers' Send is awaited) and their responses written, up to `grace`; idle
//   connections close at once; after `grace` everything is closed. Idempotent.
//   The destructor calls Shutdown(0) and joins the I/O threads.
//
// Threading: `threads` I/O threads run the connections; the Handler is called on one of
// them and must not block (post long work elsewhere and Send later). Responder::Send
// may be called from any thread, once. Boost headers stay out of this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pathway::gateway {

enum class http_errc {
  kOk = 0,
  kInvalidArgument = 1,  // a bad address, a zero limit, no handler
  kBind = 2,             // the address could not be bound or listened on
  kInternal = 3,         // no thread, or another unexpected failure while starting
};
const std::error_category& http_category();
inline std::error_code make_error_code(http_errc e) {
  return {static_cast<int>(e), http_category()};
}

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string path;    // the target before '?', percent-decoding NOT applied
  std::string query;   // after '?', empty if none
  // Header names lower-cased, values as sent (repeated headers kept in order).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client_address;  // the peer's IP address, no port
  // The first value of header `lower_name`, empty if absent.
  std::string_view Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  // Content-Length, Connection and Date are set by the server; everything else here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The one way to answer a request. Move-only. Send at most once, from any thread; a
// Responder destroyed without Send answers 500 (a handler bug must not hang a client).
// Send after the connection has gone (client closed, Shutdown's grace over) is a no-op.
class Responder {
 public:
  Responder();
  ~Responder();
  Responder(Responder&&) noexcept;
  Responder& operator=(Responder&&) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void Send(HttpResponse response);
  // True once the connection is closed or the server shuts down (a waiting handler may
  // stop waiting early).
  bool Abandoned() const;

  struct State;  // implementation detail
  explicit Responder(std::shared_ptr<State> state);

 private:
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(HttpRequest request, Responder responder)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // numeric IPv4 or IPv6
  uint16_t port = 0;                  // 0 picks a free port (see port())
  int threads = 1;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_client = 128;
};

class HttpServer {
 public:
  // Binds and starts serving. Errors: kInvalidArgument, kBind, kInternal.
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  // See the contract above. Blocks until done (at most about `grace`).
  void Shutdown(std::chrono::milliseconds grace);
  // Requests read and not yet answered (for metrics and tests).
  std::size_t InFlight() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathway::gateway

template <>
struct std::is_error_code_enum<pathway::gateway::http_errc> : std::true_type {};
