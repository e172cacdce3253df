#include "services/gateway/api/engine_client.h"

#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

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

// Idle keep-alive connections per engine ("host:port"). Used only on the client's
// I/O thread, so unlocked; bounded per engine.
class Pool {
 public:
  static constexpr size_t kMaxIdlePerEngine = 64;
  std::unique_ptr<beast::tcp_stream> Take(const std::string& engine) {
    auto it = idle_.find(engine);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto stream = std::move(it->second.back());
    it->second.pop_back();
    return stream;
  }
  void Give(const std::string& engine, std::unique_ptr<beast::tcp_stream> stream) {
    auto& list = idle_[engine];
    if (list.size() < kMaxIdlePerEngine) list.push_back(std::move(stream));
  }

 private:
  std::map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>> idle_;
};

// One call: a pooled connection or a new one (resolve, connect), write, read; every step
// under the stream's deadline. A pooled connection the engine has closed meanwhile fails
// at write or read: the call is then tried once more on a new connection (a query has
// no side effect, so a repeat is harmless).
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, Pool& pool, const EngineCallerOptions& options, std::string host,
           std::string port, EngineRequest request, std::function<void(Result<HttpResponse>)> done)
      : io_(io),
        pool_(pool),
        resolver_(io),
        host_(std::move(host)),
        port_(std::move(port)),
        engine_(host_ + ":" + port_),
        max_response_bytes_(options.max_response_bytes),
        done_(std::move(done)) {
    request_.method_string(request.method);
    request_.target(request.target);
    request_.version(11);
    request_.set(http::field::host, engine_);
    request_.set(http::field::authorization, "Bearer " + options.token);
    request_.keep_alive(true);
    if (!request.body.empty() || request.method == "POST") {
      request_.set(http::field::content_type, "application/json");
      request_.body() = std::move(request.body);
      request_.prepare_payload();
    }
    timeout_ = options.timeout;
  }
  // A call the client's shutdown cut short is still answered.
  ~Exchange() { Finish(CallError(std::errc::operation_canceled, "engine query: client stopped")); }

  void Start() {
    stream_ = pool_.Take(engine_);
    if (stream_) {
      reused_ = true;
      stream_->expires_after(timeout_);
      return Write();
    }
    Connect();
  }

 private:
  void Connect() {
    reused_ = false;
    stream_ = std::make_unique<beast::tcp_stream>(io_);
    stream_->expires_after(timeout_);
    resolver_.async_resolve(
        host_, port_,
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return self->Fail("resolve", ec);
          self->stream_->async_connect(
              results, [self](beast::error_code ec2, const tcp::endpoint&) {
                if (ec2) return self->Fail("connect", ec2);
                beast::error_code ignored;
                self->stream_->socket().set_option(tcp::no_delay(true), ignored);
                self->Write();
              });
        });
  }
  void Write() {
    http::async_write(*stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->Retry("write", ec);
                        self->Read();
                      });
  }
  void Read() {
    parser_.emplace();
    parser_->body_limit(max_response_bytes_);
    buffer_.clear();
    http::async_read(*stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Retry("read", ec);
                       auto& m = self->parser_->get();
                       HttpResponse r;
                       r.status = static_cast<int>(m.result_int());
                       for (const auto& field : m) {
                         r.headers.emplace_back(std::string(field.name_string()),
                                                std::string(field.value()));
                       }
                       r.body = std::move(m.body());
                       if (m.keep_alive()) {
                         self->stream_->expires_never();
                         self->pool_.Give(self->engine_, std::move(self->stream_));
                       } else {
                         beast::error_code ignored;
                         self->stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
                       }
                       self->Finish(std::move(r));
                     });
  }
  void Retry(const char* step, beast::error_code ec) {
    if (reused_ && ec != beast::error::timeout) return Connect();
    Fail(step, ec);
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

  asio::io_context& io_;
  Pool& pool_;
  tcp::resolver resolver_;
  std::unique_ptr<beast::tcp_stream> stream_;
  bool reused_ = false;
  std::string host_;
  std::string port_;
  std::string engine_;
  std::size_t max_response_bytes_;
  std::chrono::milliseconds timeout_{};
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::function<void(Result<HttpResponse>)> done_;
};

}  // namespace

struct HttpEngineCaller::Impl {
  explicit Impl(EngineCallerOptions o) : options(std::move(o)), work(io.get_executor()) {}
  EngineCallerOptions options;
  asio::io_context io;
  Pool pool;  // used on the I/O thread only
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
      std::make_shared<Exchange>(impl_->io, impl_->pool, impl_->options, std::move(parsed->first),
                                 std::move(parsed->second), std::move(request), std::move(done));
  asio::post(impl_->io, [exchange] { exchange->Start(); });
}

}  // namespace pathway::gateway
