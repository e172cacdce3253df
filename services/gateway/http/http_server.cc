#include "services/gateway/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <vector>

// GCC 12 reports a "potential null pointer dereference" inside Asio's scheduler
// (scheduler.ipp, compensating_work_started) once it is inlined at -O2/-O3; the pointer
// is never null there. Silence that one warning for Boost's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/buffer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "common/log.h"

namespace pathway::gateway {

// The parts shared by the server, its connections and the Responders. Not in an
// anonymous namespace: Responder::State (a named type) holds pointers to them.
namespace http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using BeastResponse = http::response<http::string_body>;

// A connection closed after its response waits this long (at most) for the client to
// close its side, reading and dropping what it still sends, so that the response is not
// destroyed by a reset (RFC 9112 section 9.6).
constexpr std::chrono::milliseconds kLinger{1'000};
// After Shutdown's grace, how long the forced close may take (the I/O threads only
// have to run one short handler per connection).
constexpr std::chrono::milliseconds kForceCloseWait{2'000};
constexpr std::chrono::milliseconds kAcceptRetry{100};
// Room in the read buffer beyond the header limit, for the start of a body.
constexpr std::size_t kReadSlack = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// What Responders need of the server; it outlives the server if a Responder does.
struct Shared {
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  // Held shared by Send while it posts onto a connection, exclusively when the
  // io_context is about to go: after that, `alive` is false and Send does nothing.
  std::shared_mutex mu;
  bool alive = true;  // guarded by mu
};

class Session;

// The server's state that connections use; outlives the io_context.
struct Core {
  Core(HttpServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  const HttpServerOptions options;
  const Handler handler;
  const std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  // Guards `sessions` and each Session's limit bookkeeping (see Session).
  std::mutex mu;
  std::condition_variable cv;  // notified when a session leaves `sessions`
  // The open connections, oldest first. A session leaves when it is finished (its
  // socket closed); the list owns it meanwhile, whatever it is waiting for.
  std::list<std::shared_ptr<Session>> sessions;
};

}  // namespace http_detail

struct Responder::State {
  State(std::weak_ptr<http_detail::Session> s, std::shared_ptr<http_detail::Shared> sh)
      : session(std::move(s)), shared(std::move(sh)) {}

  // Counts the request out of InFlight, once: at Send, or when its connection closes.
  void Resolve() {
    if (!resolved.exchange(true)) shared->in_flight.fetch_sub(1);
  }
  void Abandon() {
    abandoned = true;
    Resolve();
  }

  const std::weak_ptr<http_detail::Session> session;
  const std::shared_ptr<http_detail::Shared> shared;
  std::atomic<bool> sent{false};
  std::atomic<bool> resolved{false};
  std::atomic<bool> abandoned{false};
};

namespace http_detail {

HttpResponse Problem(int status, std::string_view title, std::string_view detail) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/problem+json"}, {"Cache-Control", "no-store"}};
  r.body = "{\"type\":\"about:blank\",\"title\":\"";
  r.body += title;
  r.body += "\",\"status\":";
  r.body += std::to_string(status);
  r.body += ",\"detail\":\"";
  r.body += detail;
  r.body += "\"}";
  return r;
}

std::string HttpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool EqualsLower(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
         });
}

// A header the handler may set: a token name that is not one the server owns, and a
// value without CR, LF or NUL (no response splitting).
bool AllowedHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
  for (std::string_view owned :
       {"content-length", "transfer-encoding", "connection", "keep-alive", "date"}) {
    if (EqualsLower(name, owned)) return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The handler's answer as Beast writes it. `close`: the connection ends after it.
BeastResponse ToBeast(HttpResponse r, bool head, bool close) {
  if (r.status < 200 || r.status > 599) {
    log::Warn("gateway_http_invalid_status", {{"status", std::to_string(r.status)}});
    r = Problem(500, "Internal Server Error", "the request handler answered an invalid status");
  }
  BeastResponse res;
  res.version(11);
  res.result(static_cast<unsigned>(r.status));
  std::size_t dropped = 0;
  for (auto& [name, value] : r.headers) {
    if (!AllowedHeader(name, value)) {
      ++dropped;
      continue;
    }
    res.insert(beast::string_view(name.data(), name.size()),
               beast::string_view(value.data(), value.size()));
  }
  if (dropped > 0) {
    log::Warn("gateway_http_response_headers_dropped", {{"count", std::to_string(dropped)}});
  }
  res.set(http::field::date, HttpDate());
  res.keep_alive(!close);
  if (r.status == 204 || r.status == 304) {
    return res;  // no body and no Content-Length (RFC 9110 sections 8.6, 15.3.5, 15.4.5)
  }
  res.body() = std::move(r.body);
  res.prepare_payload();         // Content-Length
  if (head) res.body().clear();  // keeps the Content-Length of the GET answer
  return res;
}

// One connection: read a request (bounded in time and size), hand it to the handler,
// write the answer the Responder sends, repeat while the client keeps the connection
// alive. Everything but the fields marked "core.mu" runs on the connection's strand
// (the socket's executor).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, asio::ip::address client, Core& core)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        client_(std::move(client)),
        core_(core),
        buffer_(core.options.max_header_bytes + kReadSlack) {}
  ~Session() {
    if (pending_) pending_->Abandon();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const asio::ip::address& client() const { return client_; }
  asio::any_io_executor executor() { return socket_.get_executor(); }

  // Limit bookkeeping, guarded by core.mu.
  std::list<std::shared_ptr<Session>>::iterator it;
  bool listed = false;   // in core.sessions
  bool counted = true;   // counts against the limits (not once closing or evicted)
  bool waiting = false;  // waiting for a request: may be evicted
  bool evicted = false;
  Clock::time_point waiting_since;

  // On the strand from here on.
  void Start() {
    if (phase_ != Phase::kNew) return;
    // Synchronous calls (Peek only) must never block an I/O thread.
    beast::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return Finish();
    ReadRequest();
  }

  // Shutdown began: a connection not answering a request closes now; one that is
  // closes once its response is written.
  void BeginShutdown() {
    switch (phase_) {
      case Phase::kNew:
      case Phase::kIdle:
      case Phase::kReading:
      case Phase::kLingering:
        Finish();
        break;
      case Phase::kHandling:
      case Phase::kWriting:
      case Phase::kClosed:
        break;
    }
  }

  // Closes the socket and leaves the server. Idempotent.
  void Finish() {
    if (phase_ == Phase::kClosed) return;
    auto self = shared_from_this();  // core.sessions may hold the last reference
    phase_ = Phase::kClosed;
    CancelTimer();
    beast::error_code ignored;
    socket_.close(ignored);
    if (pending_) {
      pending_->Abandon();
      pending_.reset();
    }
    std::lock_guard lock(core_.mu);
    if (listed) {
      core_.sessions.erase(it);
      listed = false;
      core_.cv.notify_all();
    }
  }

  void OnResponse(const std::shared_ptr<Responder::State>& state, HttpResponse response) {
    if (phase_ != Phase::kHandling || state != pending_) return;  // closed meanwhile
    pending_.reset();
    if (watching_) {
      beast::error_code ignored;
      socket_.cancel(ignored);  // the watch for the client closing
      watching_ = false;
    }
    bool close = !keep_alive_ || core_.shared->stopping.load();
    BeastResponse res;
    try {
      res = ToBeast(std::move(response), head_, close);
    } catch (const std::exception&) {
      res = ToBeast(Problem(500, "Internal Server Error",
                            "the request handler's response could not be written"),
                    head_, close);
    }
    Write(std::move(res), close);
  }

 private:
  enum class Phase {
    kNew,        // not started
    kIdle,       // kept alive, waiting for the first byte of the next request
    kReading,    // reading a request
    kHandling,   // the handler has the request; waiting for its Send
    kWriting,    // writing a response
    kLingering,  // response written, closing: waiting for the client to close
    kClosed,
  };

  void ReadRequest() {
    if (core_.shared->stopping) return Finish();
    phase_ = Phase::kReading;
    SetWaiting();
    timed_out_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_.options.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(core_.options.max_body_bytes));
    ArmTimer(core_.options.read_timeout);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (phase_ != Phase::kReading) return;
    if (ec) return OnReadFailed(ec);
    if (parser_->is_done()) return OnRead({});
    auto expect = parser_->get()[http::field::expect];
    if (EqualsLower(std::string_view(expect.data(), expect.size()), "100-continue")) {
      // The client waits for this before it sends the body (RFC 9110 section 10.1.1).
      asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          if (self->phase_ != Phase::kReading) return;
                          if (write_ec) return self->OnReadFailed(write_ec);
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (phase_ != Phase::kReading) return;
    if (ec) return OnReadFailed(ec);
    CancelTimer();
    if (!ClaimRequest()) return Finish();  // evicted as it arrived
    const http::verb verb = parser_->get().method();
    method_ =
        verb == http::verb::unknown ? std::string("other") : std::string(http::to_string(verb));
    head_ = verb == http::verb::head;
    if (core_.shared->stopping) {
      keep_alive_ = false;
      return RespondProblem(503, "Service Unavailable", "the server is shutting down");
    }
    Dispatch();
  }

  void OnReadFailed(beast::error_code ec) {
    CancelTimer();
    if (!ClaimRequest()) return Finish();
    method_ = "-";
    head_ = false;
    keep_alive_ = false;
    const auto& opts = core_.options;
    if (timed_out_) {
      // Nothing of a request yet: an idle client, closed without an answer.
      if (!parser_->got_some() && buffer_.size() == 0) return Finish();
      return RespondProblem(408, "Request Timeout",
                            "the request did not arrive within read_timeout (" +
                                std::to_string(opts.read_timeout.count()) + " ms)");
    }
    if (ec == http::error::body_limit) {
      return RespondProblem(
          413, "Content Too Large",
          "the request body exceeds max_body_bytes (" + std::to_string(opts.max_body_bytes) + ")");
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return RespondProblem(431, "Request Header Fields Too Large",
                            "the request line and headers exceed max_header_bytes (" +
                                std::to_string(opts.max_header_bytes) + ")");
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_target).category()) {
      return Finish();  // the client went away, or the network failed
    }
    RespondProblem(400, "Bad Request", "the request is not valid HTTP/1.1");
  }

  void Dispatch() {
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    phase_ = Phase::kHandling;
    keep_alive_ = req.version() == 11 && req.keep_alive();

    HttpRequest request;
    request.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    std::size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos)
      request.query = std::string(target.substr(question + 1));
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.client_address = client_.to_string();

    auto state = std::make_shared<Responder::State>(weak_from_this(), core_.shared);
    pending_ = state;
    core_.shared->in_flight.fetch_add(1);
    ++request_gen_;
    if (buffer_.size() == 0) Watch();
    // The handler belongs to the rest of the program: this is the edge for its
    // exceptions. Its Responder, destroyed unsent by the unwinding, answers 500.
    try {
      core_.handler(std::move(request), Responder(std::move(state)));
    } catch (const std::exception&) {
      log::Warn("gateway_http_handler_threw", {{"method", method_}});
    } catch (...) {
      log::Warn("gateway_http_handler_threw", {{"method", method_}});
    }
  }

  // While the handler works, notices the client closing the connection (Abandoned).
  // Bytes of a next request (pipelining) are left unread and end the watch.
  void Watch() {
    watching_ = true;
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this(), gen = request_gen_](beast::error_code ec) {
                         if (gen != self->request_gen_ || self->phase_ != Phase::kHandling) return;
                         self->watching_ = false;
                         if (ec == asio::error::operation_aborted) return;
                         switch (ec ? Readable::kClosed : self->Peek()) {
                           case Readable::kNothing:
                             return self->Watch();  // a stale readiness event
                           case Readable::kData:
                             return;
                           case Readable::kClosed:
                             return self->Finish();
                         }
                       });
  }

  enum class Readable { kNothing, kData, kClosed };
  // What a readable socket holds, without consuming it. Readiness alone proves
  // nothing: with several I/O threads an edge-triggered event can arrive after the
  // data it announced was read.
  Readable Peek() {
    char byte;
    beast::error_code ec;
    std::size_t n = socket_.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return Readable::kNothing;
    if (ec || n == 0) return Readable::kClosed;  // eof (the client closed), or reset
    return Readable::kData;
  }

  void RespondProblem(int status, std::string_view title, const std::string& detail) {
    phase_ = Phase::kHandling;
    Write(ToBeast(Problem(status, title, detail), head_, true), true);
  }

  void Write(BeastResponse res, bool close) {
    phase_ = Phase::kWriting;
    close_after_write_ = close;
    response_ = std::move(res);
    ArmTimer(core_.options.write_timeout);
    http::async_write(
        socket_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (phase_ != Phase::kWriting) return;
    CancelTimer();
    log::Debug("gateway_http_response",
               {{"method", method_}, {"status", std::to_string(response_.result_int())}});
    response_ = {};
    if (ec) return Finish();
    if (close_after_write_) return CloseGracefully();
    WaitForNextRequest();
  }

  void WaitForNextRequest() {
    if (core_.shared->stopping) return Finish();
    if (buffer_.size() > 0) return ReadRequest();  // it has begun already
    phase_ = Phase::kIdle;
    SetWaiting();
    ArmTimer(core_.options.idle_timeout);
    WaitIdle();
  }

  void WaitIdle() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (self->phase_ != Phase::kIdle) return;
      if (ec) return self->Finish();
      switch (self->Peek()) {
        case Readable::kNothing:
          return self->WaitIdle();  // a stale readiness event; the idle timer runs on
        case Readable::kData:
          return self->ReadRequest();  // the read timeout runs from the first byte
        case Readable::kClosed:
          return self->Finish();
      }
    });
  }

  // After the last response: no more sending, and what the client still sends is read
  // and dropped until it closes (bounded by kLinger), then the socket closes.
  void CloseGracefully() {
    if (core_.shared->stopping) return Finish();
    phase_ = Phase::kLingering;
    {
      std::lock_guard lock(core_.mu);
      counted = false;
      waiting = false;
    }
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Finish();
    ArmTimer(std::min(kLinger, core_.options.read_timeout));
    discard_.resize(4096);
    Drain();
  }

  void Drain() {
    socket_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (self->phase_ != Phase::kLingering) return;
                              if (ec) return self->Finish();
                              self->Drain();
                            });
  }

  void ArmTimer(std::chrono::milliseconds after) {
    ++timer_gen_;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), gen = timer_gen_](beast::error_code ec) {
      if (ec || gen != self->timer_gen_) return;
      self->OnTimer();
    });
  }

  void CancelTimer() {
    ++timer_gen_;
    timer_.cancel();
  }

  void OnTimer() {
    switch (phase_) {
      case Phase::kReading: {
        // The pending read (or 100 Continue write) completes, aborted; OnReadFailed
        // answers 408.
        timed_out_ = true;
        beast::error_code ignored;
        socket_.cancel(ignored);
        break;
      }
      case Phase::kIdle:
      case Phase::kWriting:  // the client does not take its response
      case Phase::kLingering:
        Finish();
        break;
      case Phase::kNew:
      case Phase::kHandling:
      case Phase::kClosed:
        break;
    }
  }

  // Marks the connection as waiting for a request (evictable), since now unless it was
  // already waiting (an idle connection whose next request has begun).
  void SetWaiting() {
    std::lock_guard lock(core_.mu);
    if (evicted || waiting) return;
    waiting = true;
    waiting_since = Clock::now();
  }

  // A request has arrived (or failed): no longer evictable. False if it was evicted
  // first (the connection is being closed).
  bool ClaimRequest() {
    std::lock_guard lock(core_.mu);
    waiting = false;
    return !evicted;
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  const asio::ip::address client_;
  Core& core_;
  Phase phase_ = Phase::kNew;
  std::uint64_t timer_gen_ = 0;
  std::uint64_t request_gen_ = 0;
  bool timed_out_ = false;
  bool watching_ = false;
  bool head_ = false;
  bool keep_alive_ = false;
  bool close_after_write_ = true;
  std::string method_ = "-";  // what the log may say: a known method's name, or "other"
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  BeastResponse response_;
  std::shared_ptr<Responder::State> pending_;  // the request the handler has
  std::vector<char> discard_;
};

class HttpCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pathway.gateway.http"; }
  std::string message(int code) const override {
    switch (static_cast<http_errc>(code)) {
      case http_errc::kOk:
        return "ok";
      case http_errc::kInvalidArgument:
        return "invalid argument";
      case http_errc::kBind:
        return "cannot listen on the address";
      case http_errc::kInternal:
        return "internal error";
    }
    return "unknown gateway http error";
  }
};

}  // namespace http_detail

namespace asio = http_detail::asio;
namespace beast = http_detail::beast;
using http_detail::tcp;

const std::error_category& http_category() {
  static const http_detail::HttpCategory category;
  return category;
}

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

// ---- Responder ----

Responder::Responder() = default;
Responder::Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}
Responder::Responder(Responder&&) noexcept = default;

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    Responder unsent(std::move(*this));  // answers 500 if it had not
    state_ = std::move(other.state_);
  }
  return *this;
}

Responder::~Responder() {
  if (!state_ || state_->sent) return;
  // A handler bug must not hang the client. Nothing may escape a destructor.
  try {
    Send(http_detail::Problem(500, "Internal Server Error", "the request handler did not answer"));
  } catch (...) {
    state_->Abandon();
  }
}

void Responder::Send(HttpResponse response) {
  if (!state_ || state_->sent.exchange(true)) return;
  state_->Resolve();
  std::shared_lock lock(state_->shared->mu);
  if (!state_->shared->alive) return;
  // The session reference ends inside the lock: the io_context outlives it.
  if (auto session = state_->session.lock()) {
    auto executor = session->executor();
    asio::post(executor, [session, state = state_, r = std::move(response)]() mutable {
      session->OnResponse(state, std::move(r));
    });
  }
}

bool Responder::Abandoned() const {
  return !state_ || state_->abandoned || state_->shared->stopping;
}

// ---- HttpServer ----

struct HttpServer::Impl {
  Impl(HttpServerOptions options, Handler handler, int thread_count)
      : core(std::move(options), std::move(handler)), ioc(thread_count) {}
  ~Impl();

  void Accept();  // accept_mu held
  void Admit(tcp::socket socket);
  bool EvictIdlest(const asio::ip::address* client);  // core.mu held
  void PostToAll(void (http_detail::Session::*what)());
  void Shutdown(std::chrono::milliseconds grace);
  void Run();

  // Members above the io_context outlive it: destroying it destroys the pending
  // handlers and with them sessions, which use `core`.
  http_detail::Core core;
  uint16_t port = 0;
  std::mutex shutdown_mu;
  bool shut_down = false;  // guarded by shutdown_mu
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  // Guards the acceptor and accept_retry: used by the I/O threads and by Shutdown.
  std::mutex accept_mu;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_retry{ioc};
  std::vector<std::thread> threads;
};

HttpServer::Impl::~Impl() {
  Shutdown(std::chrono::milliseconds(0));
  {
    std::unique_lock lock(core.shared->mu);
    core.shared->alive = false;  // no Send posts from here on
  }
  work.reset();
  ioc.stop();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  std::list<std::shared_ptr<http_detail::Session>> rest;
  {
    std::lock_guard lock(core.mu);
    rest.swap(core.sessions);
    for (auto& s : rest) s->listed = false;
  }
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(
      asio::make_strand(ioc),
      [this](beast::error_code ec,
             tcp::socket::rebind_executor<asio::strand<asio::io_context::executor_type>>::other
                 socket) {
        std::lock_guard lock(accept_mu);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
          // E.g. out of file descriptors: try again shortly rather than spin or give up.
          log::Warn("gateway_http_accept_failed", {{"error", ec.message()}});
          accept_retry.expires_after(http_detail::kAcceptRetry);
          accept_retry.async_wait([this](beast::error_code wait_ec) {
            std::lock_guard retry_lock(accept_mu);
            if (!wait_ec && acceptor.is_open()) Accept();
          });
          return;
        }
        try {
          Admit(tcp::socket(std::move(socket)));
        } catch (const std::exception& e) {
          log::Warn("gateway_http_admit_failed", {{"error", e.what()}});
        }
        Accept();
      });
}

// A new connection is admitted if it is within both limits, or can be brought within
// them by closing the connections that have waited longest for a request: of the same
// client first, then of any. It is refused (closed) only when every connection counted
// against the limit is busy with a request.
void HttpServer::Impl::Admit(tcp::socket socket) {
  beast::error_code ec;
  asio::ip::address client = socket.remote_endpoint(ec).address();
  if (ec) return;  // already gone
  if (client.is_v6() && client.to_v6().is_v4_mapped()) {
    client = asio::ip::make_address_v4(asio::ip::v4_mapped, client.to_v6());
  }
  auto session = std::make_shared<http_detail::Session>(std::move(socket), client, core);
  const char* refused = nullptr;
  {
    std::lock_guard lock(core.mu);
    auto count = [&](bool same_client) {
      return static_cast<std::size_t>(std::count_if(
          core.sessions.begin(), core.sessions.end(),
          [&](const auto& s) { return s->counted && (!same_client || s->client() == client); }));
    };
    if (core.shared->stopping) {
      refused = "shutting_down";
    } else if (count(true) >= core.options.max_connections_per_client && !EvictIdlest(&client)) {
      refused = "max_connections_per_client";
    } else if (count(false) >= core.options.max_connections && !EvictIdlest(nullptr)) {
      refused = "max_connections";
    } else {
      session->it = core.sessions.insert(core.sessions.end(), session);
      session->listed = true;
    }
  }
  if (refused) {
    log::Debug("gateway_http_connection_refused", {{"reason", refused}});
    return;  // the session, never started, closes its socket
  }
  asio::post(session->executor(), [session] { session->Start(); });
}

bool HttpServer::Impl::EvictIdlest(const asio::ip::address* client) {
  http_detail::Session* idlest = nullptr;
  for (const auto& s : core.sessions) {
    if (!s->counted || !s->waiting || (client && s->client() != *client)) continue;
    if (!idlest || s->waiting_since < idlest->waiting_since) idlest = s.get();
  }
  if (!idlest) return false;
  log::Debug("gateway_http_connection_evicted", {{"reason", client ? "per_client" : "total"}});
  idlest->counted = false;
  idlest->waiting = false;
  idlest->evicted = true;
  asio::post(idlest->executor(), [s = idlest->shared_from_this()] { s->Finish(); });
  return true;
}

void HttpServer::Impl::PostToAll(void (http_detail::Session::*what)()) {
  std::vector<std::shared_ptr<http_detail::Session>> all;
  {
    std::lock_guard lock(core.mu);
    all.reserve(core.sessions.size());
    for (const auto& s : core.sessions) all.push_back(s);
  }
  for (auto& s : all) {
    asio::post(s->executor(), [s, what] { (s.get()->*what)(); });
  }
}

void HttpServer::Impl::Shutdown(std::chrono::milliseconds grace) {
  std::lock_guard once(shutdown_mu);
  if (shut_down) return;
  const auto deadline = http_detail::Clock::now() + std::max(grace, std::chrono::milliseconds(0));
  core.shared->stopping = true;
  {
    std::lock_guard lock(accept_mu);
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
  }
  PostToAll(&http_detail::Session::BeginShutdown);
  std::unique_lock lock(core.mu);
  auto done = [this] { return core.sessions.empty(); };
  if (!core.cv.wait_until(lock, deadline, done)) {
    std::size_t left = core.sessions.size();
    lock.unlock();
    if (grace > std::chrono::milliseconds::zero()) {
      log::Info("gateway_http_shutdown_grace_over", {{"connections", std::to_string(left)}});
    }
    PostToAll(&http_detail::Session::Finish);
    lock.lock();
    if (!core.cv.wait_for(lock, http_detail::kForceCloseWait, done)) {
      log::Warn("gateway_http_shutdown_incomplete",
                {{"connections", std::to_string(core.sessions.size())}});
    }
  }
  shut_down = true;
}

void HttpServer::Impl::Run() {
  // The edge of an I/O thread: an exception escaping a handler is logged and the loop
  // goes on (Asio allows run() to be called again); stop() ends it.
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log::Error("gateway_http_loop_failed", {{"error", e.what()}});
    } catch (...) {
      log::Error("gateway_http_loop_failed", {});
    }
  }
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;  // ~Impl: Shutdown(0), then the threads are joined

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }

std::size_t HttpServer::InFlight() const { return impl_->core.shared->in_flight.load(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, Handler handler) {
  using std::chrono::milliseconds;
  if (!handler) return Error{make_error_code(http_errc::kInvalidArgument), "no handler"};
  if (options.threads < 1 || options.max_header_bytes == 0 ||
      options.max_header_bytes > (std::size_t{1} << 30) || options.max_body_bytes == 0 ||
      options.read_timeout <= milliseconds::zero() ||
      options.write_timeout <= milliseconds::zero() ||
      options.idle_timeout <= milliseconds::zero() || options.max_connections == 0 ||
      options.max_connections_per_client == 0) {
    return Error{make_error_code(http_errc::kInvalidArgument), "invalid HttpServerOptions"};
  }
  // Asio reports through error codes here; anything thrown (allocation, thread creation)
  // stops at this edge.
  try {
    beast::error_code ec;
    asio::ip::address ip = asio::ip::make_address(options.address, ec);
    if (ec) {
      return Error{make_error_code(http_errc::kInvalidArgument),
                   "not a numeric IP address: " + options.address};
    }
    tcp::endpoint endpoint(ip, options.port);
    std::string where = options.address + " port " + std::to_string(options.port);
    int threads = options.threads;
    auto impl = std::make_unique<Impl>(std::move(options), std::move(handler), threads);
    impl->acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(endpoint, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) impl->port = impl->acceptor.local_endpoint(ec).port();
    if (ec) return Error{make_error_code(http_errc::kBind), where + ": " + ec.message()};
    {
      std::lock_guard lock(impl->accept_mu);
      impl->Accept();
    }
    for (int i = 0; i < threads; ++i) {
      impl->threads.emplace_back([server = impl.get()] { server->Run(); });
    }
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  } catch (const std::exception& e) {
    return Error{make_error_code(http_errc::kInternal), e.what()};
  }
}

}  // namespace pathway::gateway
