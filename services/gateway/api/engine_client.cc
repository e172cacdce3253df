#include "services/gateway/api/engine_client.h"

#include <optional>
#include <thread>
#include <utility>

// As in http_server.cc: GCC 12 reports a "potential null pointer dereference" inside
// Asio's scheduler that cannot happen; silenced for Boost's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace pathway::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Error CallError(std::errc code, std::string detail) {
  return Error{std::make_error_code(code), std::move(detail)};
}

// "http://host:port" -> {host, port}.
std::optional<std::pair<std::string, std::string>> ParseBaseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  std::string_view host;
  std::string_view port;
  if (url.starts_with('[')) {
    const size_t close = url.find(']');
    if (close == std::string_view::npos || close + 1 >= url.size() || url[close + 1] != ':') {
      return std::nullopt;
    }
    host = url.substr(1, close - 1);
    port = url.substr(close + 2);
  } else {
    const size_t colon = url.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = url.substr(0, colon);
    port = url.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      host.find_first_of("/?#@ ") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::make_pair(std::string(host), std::string(port));
}

// One call: resolve, connect, write, read; every step under the stream's deadline.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, const EngineCallerOptions& options, std::string host,
           std::string port, EngineRequest request, std::function<void(Result<HttpResponse>)> done)
      : resolver_(io),
        stream_(io),
        host_(std::move(host)),
        port_(std::move(port)),
        done_(std::move(done)) {
    request_.method_string(request.method);
    request_.target(request.target);
    request_.version(11);
    request_.set(http::field::host, host_ + ":" + port_);
    request_.set(http::field::authorization, "Bearer " + options.token);
    request_.set(http::field::connection, "close");
    if (!request.body.empty() || request.method == "POST") {
      request_.set(http::field::content_type, "application/json");
      request_.body() = std::move(request.body);
      request_.prepare_payload();
    }
    parser_.body_limit(options.max_response_bytes);
    timeout_ = options.timeout;
  }
  // A call the client's shutdown cut short is still answered.
  ~Exchange() { Finish(CallError(std::errc::operation_canceled, "engine query: client stopped")); }

  void Start() {
    stream_.expires_after(timeout_);
    resolver_.async_resolve(
        host_, port_,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return self->Fail("resolve", ec);
          self->stream_.async_connect(results, [self](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) return self->Fail("connect", ec2);
            self->Write();
          });
        });
  }

 private:
  void Write() {
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->Fail("write", ec);
                        self->Read();
                      });
  }
  void Read() {
    http::async_read(
        stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->Fail("read", ec);
          auto& m = self->parser_.get();
          HttpResponse r;
          r.status = static_cast<int>(m.result_int());
          for (const auto& field : m) {
            r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
          }
          r.body = std::move(m.body());
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
          self->Finish(std::move(r));
        });
  }
  void Fail(const char* step, beast::error_code ec) {
    const bool timed_out = ec == beast::error::timeout;
    Finish(CallError(timed_out ? std::errc::timed_out : std::errc::connection_refused,
                     std::string("engine query ") + step + ": " + ec.message()));
  }
  void Finish(Result<HttpResponse> result) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::string host_;
  std::string port_;
  std::chrono::milliseconds timeout_{};
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::function<void(Result<HttpResponse>)> done_;
};

}  // namespace

struct HttpEngineCaller::Impl {
  explicit Impl(EngineCallerOptions o) : options(std::move(o)), work(io.get_executor()) {}
  EngineCallerOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
};

HttpEngineCaller::HttpEngineCaller(EngineCallerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

HttpEngineCaller::~HttpEngineCaller() {
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
  // Destroying the context destroys the handlers of unfinished calls, and with them
  // their exchanges, which answer their callers (~Exchange).
  impl_.reset();
}

void HttpEngineCaller::Call(const std::string& base_url, EngineRequest request,
                            std::function<void(Result<HttpResponse>)> done) {
  auto parsed = ParseBaseUrl(base_url);
  if (!parsed) {
    return done(CallError(std::errc::invalid_argument, "engine query URL is not http://HOST:PORT"));
  }
  auto exchange =
      std::make_shared<Exchange>(impl_->io, impl_->options, std::move(parsed->first),
                                 std::move(parsed->second), std::move(request), std::move(done));
  asio::post(impl_->io, [exchange] { exchange->Start(); });
}

}  // namespace pathway::gateway
