#include "services/ops/http_server.h"

#include <algorithm>
#include <exception>
#include <list>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

// GCC 12 reports a "potential null pointer dereference" inside Asio's scheduler
// (scheduler.ipp, compensating_work_started) once it is inlined at -O2/-O3; the pointer
// is never null there. Silence that one warning for Boost's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "common/log.h"

namespace pathway::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;
using Request = http::request<http::string_body>;

constexpr std::string_view kMetricsPath = "/metrics";
constexpr std::string_view kLivePath = "/health/live";
constexpr std::string_view kReadyPath = "/health/ready";
constexpr std::string_view kOtherPath = "other";  // what the log says for any other path
constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
constexpr size_t kMaxDetailBytes = 1024;
constexpr std::chrono::milliseconds kAcceptRetry{100};

class OpsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pathway.ops"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::kOk:
        return "ok";
      case errc::kInvalidArgument:
        return "invalid argument";
      case errc::kBind:
        return "cannot listen on the address";
      case errc::kInternal:
        return "internal error";
    }
    return "unknown ops error";
  }
};

Response MakeResponse(http::status status, std::string_view content_type, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

// The response to a well-formed request, and the route name to log.
Response Route(const Handlers& handlers, const Request& req, std::string_view& route) {
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  route = path == kMetricsPath ? kMetricsPath
          : path == kLivePath  ? kLivePath
          : path == kReadyPath ? kReadyPath
                               : kOtherPath;
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    Response res =
        MakeResponse(http::status::method_not_allowed, kTextContentType, "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  // The handlers belong to the rest of the program: this is the edge for their exceptions.
  try {
    if (route == kMetricsPath) {
      return MakeResponse(http::status::ok, kMetricsContentType, handlers.metrics());
    }
    if (route == kLivePath) {
      return handlers.live()
                 ? MakeResponse(http::status::ok, kTextContentType, "live\n")
                 : MakeResponse(http::status::service_unavailable, kTextContentType, "not live\n");
    }
    if (route == kReadyPath) {
      if (handlers.ready()) {
        // Ready, but with something operators must see (e.g. a pending erasure purge).
        std::string notes = handlers.ready_notes ? handlers.ready_notes() : std::string();
        std::string ok = "ready";
        if (!notes.empty()) {
          ok += ": ";
          ok += notes.substr(0, kMaxDetailBytes);
        }
        ok += "\n";
        return MakeResponse(http::status::ok, kTextContentType, std::move(ok));
      }
      std::string body = "not ready";
      std::string detail = handlers.ready_detail ? handlers.ready_detail() : std::string();
      if (!detail.empty()) {
        body += ": ";
        body += detail.substr(0, kMaxDetailBytes);
      }
      body += "\n";
      return MakeResponse(http::status::service_unavailable, kTextContentType, std::move(body));
    }
  } catch (const std::exception& e) {
    log::Warn("ops_http_handler_failed", {{"path", std::string(route)}, {"error", e.what()}});
    return MakeResponse(http::status::internal_server_error, kTextContentType, "internal error\n");
  } catch (...) {
    log::Warn("ops_http_handler_failed", {{"path", std::string(route)}});
    return MakeResponse(http::status::internal_server_error, kTextContentType, "internal error\n");
  }
  return MakeResponse(http::status::not_found, kTextContentType, "not found\n");
}

}  // namespace

const std::error_category& ops_category() {
  static const OpsCategory category;
  return category;
}

struct HttpServer::Impl {
  class Session;

  Impl(Handlers h, HttpServerOptions o) : handlers(std::move(h)), options(o) {}
  ~Impl() {
    ioc.stop();
    if (thread.joinable()) thread.join();
  }
  void Accept();
  void Admit(tcp::socket socket);
  // Closes the connection from `client` (any client if null) that has waited longest
  // for a request; false if every connection is busy answering one.
  bool EvictIdlest(const asio::ip::address* client);
  void Run();

  const Handlers handlers;
  const HttpServerOptions options;
  // The open connections, oldest first; touched on the I/O thread, and by ~io_context
  // after join. An evicted connection leaves the list at once (its socket is closed; the
  // session ends when its read completes).
  std::list<Session*> sessions;
  uint16_t port = 0;
  // Members above outlive the io_context: destroying it destroys the pending handlers and
  // with them the sessions, which use `handlers`, `options` and `sessions`.
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_retry{ioc};
  std::thread thread;
};

// One connection: read a request (bounded in time and size), answer, repeat while the
// client keeps the connection alive. Owned by the handler of its pending operation.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, asio::ip::address client, Impl& server)
      : stream_(std::move(socket)),
        client_(std::move(client)),
        server_(server),
        buffer_(2 * server.options.max_request_bytes + 4096) {
    it_ = server_.sessions.insert(server_.sessions.end(), this);
  }
  ~Session() {
    if (listed_) server_.sessions.erase(it_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const asio::ip::address& client() const { return client_; }
  // Waiting for a request (the first, or the next on a kept-alive connection), and
  // since when; a connection answering a request is never evicted.
  bool waiting() const { return waiting_; }
  std::chrono::steady_clock::time_point waiting_since() const { return waiting_since_; }

  // Leaves the list and closes the socket: the pending read completes and the session
  // ends with it.
  void Evict() {
    if (listed_) server_.sessions.erase(it_);
    listed_ = false;
    waiting_ = false;
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_request_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(server_.options.max_request_bytes));
    // A kept-alive connection waits only `idle_timeout` for its next request.
    stream_.expires_after(served_
                              ? std::min(server_.options.idle_timeout, server_.options.read_timeout)
                              : server_.options.read_timeout);
    waiting_ = listed_;
    waiting_since_ = std::chrono::steady_clock::now();
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    waiting_ = false;
    if (ec) {
      // Time-outs, resets and clients that went away: nothing to answer.
      if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
          ec.category() != http::make_error_code(http::error::bad_target).category()) {
        Close();
      } else if (ec == http::error::body_limit) {
        RespondAndClose(http::status::payload_too_large, "request body too large\n");
      } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        RespondAndClose(http::status::request_header_fields_too_large, "request too large\n");
      } else {
        RespondAndClose(http::status::bad_request, "bad request\n");
      }
      return;
    }
    Request req = parser_->release();
    served_ = true;
    std::string_view route;
    response_ = Route(server_.handlers, req, route);
    response_.version(req.version());
    response_.keep_alive(req.keep_alive());
    response_.prepare_payload();
    if (req.method() == http::verb::head) response_.body().clear();  // keeps Content-Length
    log::Debug("ops_http_request", {{"method", std::string(http::to_string(req.method()))},
                                    {"path", std::string(route)},
                                    {"status", std::to_string(response_.result_int())}});
    Write();
  }

  void RespondAndClose(http::status status, std::string body) {
    response_ = MakeResponse(status, kTextContentType, std::move(body));
    response_.keep_alive(false);
    response_.prepare_payload();
    log::Debug("ops_http_request", {{"method", "-"},
                                    {"path", std::string(kOtherPath)},
                                    {"status", std::to_string(response_.result_int())}});
    Write();
  }

  void Write() {
    stream_.expires_after(server_.options.read_timeout);
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return;  // the socket closes with the session
    if (response_.need_eof()) {
      Close();
      return;
    }
    response_ = {};
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  const asio::ip::address client_;
  Impl& server_;
  std::list<Session*>::iterator it_;
  bool listed_ = true;
  bool waiting_ = false;
  bool served_ = false;
  std::chrono::steady_clock::time_point waiting_since_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // E.g. out of file descriptors: try again shortly rather than spin or give up.
      log::Warn("ops_http_accept_failed", {{"error", ec.message()}});
      accept_retry.expires_after(kAcceptRetry);
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

// A new connection is admitted if it is within both limits, or can be brought within
// them by closing idle connections: the longest-waiting one of the same client first,
// then the longest-waiting one of any client. So idle clients can never keep a health
// probe out; only connections busy answering requests can.
void HttpServer::Impl::Admit(tcp::socket socket) {
  beast::error_code ec;
  asio::ip::address client = socket.remote_endpoint(ec).address();
  if (ec) return;  // already gone
  auto refuse = [&](const char* reason) {
    log::Debug("ops_http_connection_refused", {{"reason", reason}});
    beast::error_code ignored;
    socket.close(ignored);
  };
  auto same_client = [&] {
    return static_cast<size_t>(std::count_if(sessions.begin(), sessions.end(),
                                             [&](Session* s) { return s->client() == client; }));
  };
  if (same_client() >= options.max_connections_per_client && !EvictIdlest(&client)) {
    return refuse("max_connections_per_client");
  }
  if (sessions.size() >= options.max_connections && !EvictIdlest(nullptr)) {
    return refuse("max_connections");
  }
  std::make_shared<Session>(std::move(socket), std::move(client), *this)->Read();
}

bool HttpServer::Impl::EvictIdlest(const asio::ip::address* client) {
  Session* idlest = nullptr;
  for (Session* s : sessions) {
    if (!s->waiting() || (client && s->client() != *client)) continue;
    if (!idlest || s->waiting_since() < idlest->waiting_since()) idlest = s;
  }
  if (!idlest) return false;
  log::Debug("ops_http_connection_evicted", {{"reason", client ? "per_client" : "total"}});
  idlest->Evict();
  return true;
}

void HttpServer::Impl::Run() {
  // The edge of the I/O thread: an exception escaping a handler is logged and the loop
  // goes on (Asio allows run() to be called again); stop() ends it.
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log::Error("ops_http_loop_failed", {{"error", e.what()}});
    } catch (...) {
      log::Error("ops_http_loop_failed", {});
    }
  }
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const { return impl_->port; }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address, uint16_t port,
                                                      Handlers handlers,
                                                      HttpServerOptions options) {
  if (!handlers.metrics || !handlers.live || !handlers.ready) {
    return Error{make_error_code(errc::kInvalidArgument),
                 "the metrics, live and ready handlers are required"};
  }
  if (options.read_timeout <= std::chrono::milliseconds::zero() || options.max_request_bytes == 0 ||
      options.max_request_bytes > (1u << 30) || options.max_connections == 0 ||
      options.max_connections_per_client == 0 ||
      options.idle_timeout <= std::chrono::milliseconds::zero()) {
    return Error{make_error_code(errc::kInvalidArgument), "invalid HttpServerOptions"};
  }
  // Asio reports through error codes here; anything thrown (allocation, thread creation)
  // stops at this edge.
  try {
    beast::error_code ec;
    asio::ip::address ip = asio::ip::make_address(address, ec);
    if (ec) {
      return Error{make_error_code(errc::kInvalidArgument), "not a numeric IP address: " + address};
    }
    tcp::endpoint endpoint(ip, port);
    std::string where = address + " port " + std::to_string(port);
    auto impl = std::make_unique<Impl>(std::move(handlers), options);
    impl->acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(endpoint, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) impl->port = impl->acceptor.local_endpoint(ec).port();
    if (ec) return Error{make_error_code(errc::kBind), where + ": " + ec.message()};
    impl->Accept();
    impl->thread = std::thread([server = impl.get()] { server->Run(); });
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  } catch (const std::exception& e) {
    return Error{make_error_code(errc::kInternal), e.what()};
  }
}

}  // namespace pathway::ops
