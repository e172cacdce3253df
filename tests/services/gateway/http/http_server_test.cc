// The gateway's HTTP server on real sockets (127.0.0.1, an ephemeral port), driven by a
// small Beast client. The client is synchronous from the test's point of view; it runs
// each operation on its own io_context with a deadline, so a broken server fails a test
// instead of hanging it. Waits for the server's side (a handler called, a request
// abandoned) poll with a bound; no sleep decides an outcome.
#include "services/gateway/http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// GCC 12 reports a "potential null pointer dereference" inside Asio's scheduler
// (scheduler.ipp, compensating_work_started) once it is inlined at -O2/-O3; the pointer
// is never null there. Silence that one warning for Boost's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace pathway::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;
using namespace std::chrono_literals;

constexpr std::chrono::seconds kClientTimeout{5};
constexpr std::chrono::seconds kWaitLimit{5};

// Polls `done` until it holds or kWaitLimit passes; true if it held.
bool WaitUntil(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class Client {
 public:
  // `from`: the local address to connect from (any 127.0.0.0/8 address on Linux), so one
  // test can be many clients.
  explicit Client(uint16_t port, const char* from = nullptr) {
    beast::error_code result;
    if (from) {
      stream_.socket().open(tcp::v4(), result);
      if (!result) stream_.socket().bind(tcp::endpoint(asio::ip::make_address(from), 0), result);
    }
    if (!result) {
      stream_.expires_after(kClientTimeout);
      stream_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port),
                            [&](beast::error_code ec) { result = ec; });
      Run();
    }
    connect_error_ = result;
  }

  beast::error_code connect_error() const { return connect_error_; }

  // One request and its response on this connection.
  beast::error_code Fetch(http::verb verb, const std::string& target, Response& out,
                          const std::string& body = "",
                          const std::vector<std::pair<std::string, std::string>>& headers = {},
                          int version = 11) {
    http::request<http::string_body> req{verb, target, version};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.insert(name, value);
    req.body() = body;
    req.prepare_payload();
    beast::error_code result = Write(req);
    if (result) return result;
    return ReadResponse(out, verb == http::verb::head);
  }

  beast::error_code Write(http::request<http::string_body>& req) {
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    http::async_write(stream_, req, [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    return result;
  }

  beast::error_code WriteRaw(const std::string& bytes) {
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    asio::async_write(stream_, asio::buffer(bytes),
                      [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    return result;
  }

  beast::error_code ReadResponse(Response& out, bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    parser.skip(head);
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    http::async_read(stream_, buffer_, parser,
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    if (!result) out = parser.release();
    return result;
  }

  // Raw bytes up to and including the first "\r\n\r\n" (an interim response's head);
  // nothing may follow it yet.
  beast::error_code ReadHead(std::string& out) {
    beast::error_code result;
    std::size_t n = 0;
    std::string raw;
    stream_.expires_after(kClientTimeout);
    asio::async_read_until(stream_, asio::dynamic_buffer(raw), "\r\n\r\n",
                           [&](beast::error_code ec, std::size_t m) {
                             result = ec;
                             n = m;
                           });
    Run();
    out = raw.substr(0, n);
    if (!result && raw.size() != n) ADD_FAILURE() << "more than the head: " << raw;
    return result;
  }

  // Reads until the server closes the connection (or the client deadline passes, which
  // reports beast::error::timeout); returns how it ended. `received`: the bytes read.
  beast::error_code WaitForClose(std::size_t* received = nullptr) {
    beast::error_code result;
    std::size_t total = buffer_.size();
    stream_.expires_after(kClientTimeout);
    std::function<void()> read_more;
    std::vector<char> scratch(64 * 1024);
    read_more = [&] {
      stream_.async_read_some(asio::buffer(scratch), [&](beast::error_code ec, std::size_t n) {
        total += n;
        if (ec) {
          result = ec;
          return;
        }
        read_more();
      });
    };
    read_more();
    Run();
    if (received) *received = total;
    return result;
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

// The server closed the connection (cleanly or with a reset), rather than the client
// giving up.
bool ClosedByServer(beast::error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain"}};
  r.body = std::move(body);
  return r;
}

// A problem+json body (RFC 9457) with this status, naming `limit`.
void ExpectProblem(const Response& res, int status, std::string_view limit) {
  EXPECT_EQ(res.result_int(), static_cast<unsigned>(status));
  EXPECT_EQ(res[http::field::content_type], "application/problem+json");
  EXPECT_NE(res.body().find("\"type\":\"about:blank\""), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("\"status\":" + std::to_string(status)), std::string::npos)
      << res.body();
  EXPECT_NE(res.body().find("\"title\":\""), std::string::npos) << res.body();
  EXPECT_NE(res.body().find(limit), std::string::npos) << res.body();
}

// Responders a handler kept, for the test to answer (or drop) later.
class Parked {
 public:
  void Add(HttpRequest request, Responder responder) {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(request));
    responders_.push_back(std::move(responder));
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return responders_.size();
  }
  bool WaitFor(std::size_t n) {
    return WaitUntil([&] { return size() >= n; });
  }
  Responder& at(std::size_t i) {
    std::lock_guard lock(mu_);
    return responders_.at(i);
  }
  void Clear() {
    std::deque<Responder> gone;
    std::lock_guard lock(mu_);
    gone.swap(responders_);
  }

 private:
  std::mutex mu_;
  std::deque<HttpRequest> requests_;
  std::deque<Responder> responders_;
};

class GatewayHttpServerTest : public ::testing::Test {
 protected:
  HttpServerOptions Options() {
    HttpServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    return options;
  }

  void StartServer(HttpServerOptions options, Handler handler) {
    auto started = HttpServer::Start(std::move(options), std::move(handler));
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    server_ = std::move(started).value();
    ASSERT_NE(server_->port(), 0);
  }

  // Answers 200 with the request's body; "/park" requests are kept in parked_.
  Handler EchoOrPark() {
    return [this](HttpRequest request, Responder responder) {
      if (request.path == "/park") {
        parked_.Add(std::move(request), std::move(responder));
        return;
      }
      responder.Send(Text(200, request.body));
    };
  }

  // Outlive the server: Responders are dropped (and Send) after it is gone.
  Parked parked_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(GatewayHttpServerTest, GetRoundTripWithLowerCasedHeaders) {
  std::mutex mu;
  std::optional<HttpRequest> seen;
  StartServer(Options(), [&](HttpRequest request, Responder responder) {
    HttpResponse r = Text(200, "hello");
    r.headers.emplace_back("X-Request-Seen", "yes");
    {
      std::lock_guard lock(mu);
      seen = std::move(request);
    }
    responder.Send(std::move(r));
  });
  Client client(server_->port());
  ASSERT_FALSE(client.connect_error());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/v1/referrals", res, "",
                            {{"X-Trace-ID", "Abc-123"}, {"Accept", "a/b"}, {"ACCEPT", "c/d"}}));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "hello");
  EXPECT_EQ(res["X-Request-Seen"], "yes");
  EXPECT_EQ(res[http::field::content_type], "text/plain");
  EXPECT_EQ(res[http::field::content_length], "5");
  EXPECT_FALSE(res[http::field::date].empty());
  EXPECT_TRUE(res.keep_alive());

  std::lock_guard lock(mu);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->method, "GET");
  EXPECT_EQ(seen->path, "/v1/referrals");
  EXPECT_EQ(seen->query, "");
  EXPECT_EQ(seen->body, "");
  EXPECT_EQ(seen->client_address, "127.0.0.1");
  EXPECT_EQ(seen->Header("x-trace-id"), "Abc-123");  // value as sent
  EXPECT_EQ(seen->Header("host"), "127.0.0.1");
  EXPECT_EQ(seen->Header("accept"), "a/b");   // the first of two
  EXPECT_EQ(seen->Header("X-Trace-ID"), "");  // names are looked up lower-cased
  EXPECT_EQ(seen->Header("absent"), "");
  std::vector<std::string> accepts;
  for (const auto& [name, value] : seen->headers) {
    for (char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
    if (name == "accept") accepts.push_back(value);
  }
  EXPECT_EQ(accepts, (std::vector<std::string>{"a/b", "c/d"}));
}

TEST_F(GatewayHttpServerTest, TheTargetIsSplitAtTheFirstQuestionMark) {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> seen;
  StartServer(Options(), [&](HttpRequest request, Responder responder) {
    {
      std::lock_guard lock(mu);
      seen.emplace_back(request.path, request.query);
    }
    responder.Send(Text(200, ""));
  });
  Client client(server_->port());
  Response res;
  for (const char* target :
       {"/a/b?status=open&page=2", "/plain", "/empty?", "/twice?x=1?y=%20", "/%7Eraw"}) {
    ASSERT_FALSE(client.Fetch(http::verb::get, target, res)) << target;
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{
                      {"/a/b", "status=open&page=2"},
                      {"/plain", ""},
                      {"/empty", ""},
                      {"/twice", "x=1?y=%20"},
                      {"/%7Eraw", ""},  // not percent-decoded
                  }));
}

TEST_F(GatewayHttpServerTest, BodiesAreEchoedUpToTheLimit) {
  HttpServerOptions options = Options();
  options.max_body_bytes = 200 * 1024;
  StartServer(options, EchoOrPark());
  Client client(server_->port());
  std::string body(200 * 1024, 'x');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::post, "/echo", res, body));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), body);
  // A chunked body too.
  ASSERT_FALSE(
      client.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  ASSERT_FALSE(client.ReadResponse(res));
  EXPECT_EQ(res.body(), "hello world");
}

TEST_F(GatewayHttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  StartServer(Options(), [&](HttpRequest request, Responder responder) {
    ++calls;
    responder.Send(Text(200, request.path));
  });
  Client client(server_->port());
  for (int i = 0; i < 5; ++i) {
    Response res;
    std::string target = "/r" + std::to_string(i);
    ASSERT_FALSE(client.Fetch(http::verb::get, target, res)) << i;
    EXPECT_EQ(res.body(), target);
    EXPECT_TRUE(res.keep_alive());
  }
  // Connection: close is honoured: the answer says so, then the server closes.
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/last", res, "", {{"Connection", "close"}}));
  EXPECT_EQ(res.body(), "/last");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));
  EXPECT_EQ(calls.load(), 6);

  // HTTP/1.0 closes after one response.
  Client old(server_->port());
  ASSERT_FALSE(old.Fetch(http::verb::get, "/old", res, "", {}, 10));
  EXPECT_EQ(res.body(), "/old");
  EXPECT_TRUE(ClosedByServer(old.WaitForClose()));
}

TEST_F(GatewayHttpServerTest, HeadKeepsTheLengthButSendsNoBody) {
  StartServer(Options(),
              [](HttpRequest, Responder responder) { responder.Send(Text(200, "twelve bytes")); });
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::head, "/x", res));
  EXPECT_EQ(res[http::field::content_length], "12");
  EXPECT_EQ(res.body(), "");
  // Nothing stray followed the header.
  ASSERT_FALSE(client.Fetch(http::verb::get, "/x", res));
  EXPECT_EQ(res.body(), "twelve bytes");
}

TEST_F(GatewayHttpServerTest, TheHandlerMayAnswerLaterFromAnotherThread) {
  HttpServerOptions options = Options();
  options.threads = 2;
  std::mutex mu;
  std::set<std::thread::id> handler_threads;
  StartServer(options, [&](HttpRequest request, Responder responder) {
    {
      std::lock_guard lock(mu);
      handler_threads.insert(std::this_thread::get_id());
    }
    parked_.Add(std::move(request), std::move(responder));
  });
  auto fetched = std::async(std::launch::async, [port = server_->port()] {
    Client client(port);
    Response res;
    beast::error_code ec = client.Fetch(http::verb::get, "/wait", res);
    return std::make_pair(ec, res);
  });
  ASSERT_TRUE(parked_.WaitFor(1));
  EXPECT_EQ(server_->InFlight(), 1u);
  EXPECT_FALSE(parked_.at(0).Abandoned());
  EXPECT_EQ(fetched.wait_for(50ms), std::future_status::timeout) << "answered before Send";
  std::thread::id sender_id;
  std::thread sender([&] {
    sender_id = std::this_thread::get_id();
    parked_.at(0).Send(Text(202, "later"));
  });
  sender.join();
  auto [ec, res] = fetched.get();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 202u);
  EXPECT_EQ(res.body(), "later");
  EXPECT_EQ(server_->InFlight(), 0u);
  std::lock_guard lock(mu);
  EXPECT_EQ(handler_threads.count(sender_id), 0u);
  EXPECT_EQ(handler_threads.size(), 1u);
}

TEST_F(GatewayHttpServerTest, ASecondSendIsIgnored) {
  StartServer(Options(), [](HttpRequest, Responder responder) {
    responder.Send(Text(200, "first"));
    responder.Send(Text(201, "second"));
    Responder moved = std::move(responder);
    moved.Send(Text(202, "third"));
    responder.Send(Text(203, "fourth"));  // NOLINT(bugprone-use-after-move): a no-op
  });
  Client client(server_->port());
  for (int i = 0; i < 3; ++i) {
    // Were a second answer written, it would be read here as the next one.
    Response res;
    ASSERT_FALSE(client.Fetch(http::verb::get, "/", res)) << i;
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "first");
  }
}

TEST_F(GatewayHttpServerTest, ADroppedResponderOrAThrowingHandlerAnswers500) {
  std::atomic<bool> throw_next{false};
  StartServer(Options(), [&](HttpRequest request, Responder /*dropped without Send*/) {
    if (throw_next) throw std::runtime_error("handler bug with " + request.path);
  });
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/secret-child-name", res));
  ExpectProblem(res, 500, "handler");
  EXPECT_EQ(res.body().find("secret"), std::string::npos);
  EXPECT_TRUE(res.keep_alive());
  throw_next = true;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/secret-child-name", res));
  ExpectProblem(res, 500, "handler");
  EXPECT_EQ(res.body().find("secret"), std::string::npos);
  EXPECT_EQ(server_->InFlight(), 0u);
}

TEST_F(GatewayHttpServerTest, TheServerOwnsFramingHeadersAndRefusesSplitting) {
  StartServer(Options(), [](HttpRequest, Responder responder) {
    HttpResponse r = Text(200, "ok");
    r.headers.emplace_back("Content-Length", "999");
    r.headers.emplace_back("Connection", "close");
    r.headers.emplace_back("X-Injected", "a\r\nSet-Cookie: evil=1");
    r.headers.emplace_back("Bad Name", "x");
    r.headers.emplace_back("X-Fine", "kept");
    responder.Send(std::move(r));
  });
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/", res));
  EXPECT_EQ(res[http::field::content_length], "2");
  EXPECT_EQ(res.body(), "ok");
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(res.count("X-Injected"), 0u);
  EXPECT_EQ(res.count(http::field::set_cookie), 0u);
  EXPECT_EQ(res["X-Fine"], "kept");
  ASSERT_FALSE(client.Fetch(http::verb::get, "/", res));  // still alive
}

TEST_F(GatewayHttpServerTest, HeadersOverTheLimitAre431) {
  HttpServerOptions options = Options();
  options.max_header_bytes = 1024;
  options.read_timeout = 60s;  // so only the limit can end it
  std::atomic<int> calls{0};
  StartServer(options, [&](HttpRequest, Responder responder) {
    ++calls;
    responder.Send(Text(200, ""));
  });
  Client client(server_->port());
  ASSERT_FALSE(client.WriteRaw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'q') +
                               "\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.ReadResponse(res));
  ExpectProblem(res, 431, "max_header_bytes (1024)");
  EXPECT_EQ(res.body().find("qqq"), std::string::npos);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));
  EXPECT_EQ(calls.load(), 0);
  // Just under the limit is fine.
  Client fits(server_->port());
  ASSERT_FALSE(fits.Fetch(http::verb::get, "/", res, "", {{"X-Big", std::string(800, 'q')}}));
  EXPECT_EQ(res.result(), http::status::ok);
}

TEST_F(GatewayHttpServerTest, AContentLengthOverTheLimitIs413BeforeTheBody) {
  HttpServerOptions options = Options();
  options.max_body_bytes = 1000;
  options.read_timeout = 60s;  // were the body awaited, the client would time out first
  std::atomic<int> calls{0};
  StartServer(options, [&](HttpRequest request, Responder responder) {
    ++calls;
    responder.Send(Text(200, request.body));
  });
  Client client(server_->port());
  ASSERT_FALSE(client.WriteRaw("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.ReadResponse(res));
  ExpectProblem(res, 413, "max_body_bytes (1000)");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));
  EXPECT_EQ(calls.load(), 0);

  Client fits(server_->port());
  ASSERT_FALSE(fits.Fetch(http::verb::post, "/upload", res, std::string(1000, 'b')));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body().size(), 1000u);
}

TEST_F(GatewayHttpServerTest, ABodyAfter100ContinueIsRead) {
  StartServer(Options(), EchoOrPark());
  Client client(server_->port());
  ASSERT_FALSE(client.WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  std::string interim;
  ASSERT_FALSE(client.ReadHead(interim));  // the body is sent only after this arrives
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_FALSE(client.WriteRaw("hello"));
  Response res;
  ASSERT_FALSE(client.ReadResponse(res));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "hello");
}

TEST_F(GatewayHttpServerTest, GarbageIs400AndNotEchoed) {
  std::atomic<int> calls{0};
  StartServer(Options(), [&](HttpRequest, Responder responder) {
    ++calls;
    responder.Send(Text(200, ""));
  });
  Client client(server_->port());
  ASSERT_FALSE(client.WriteRaw("GET /x HTTP/1.1\r\nHost: x\r\nBad Header Name: Jane-Doe\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.ReadResponse(res));
  ExpectProblem(res, 400, "HTTP/1.1");
  EXPECT_EQ(res.body().find("Jane"), std::string::npos);
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));

  Client binary(server_->port());
  ASSERT_FALSE(binary.WriteRaw(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) +
                               "\r\n\r\n"));
  ASSERT_FALSE(binary.ReadResponse(res));
  ExpectProblem(res, 400, "HTTP/1.1");
  EXPECT_TRUE(ClosedByServer(binary.WaitForClose()));
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(GatewayHttpServerTest, ARequestSlowerThanTheReadTimeoutIs408) {
  HttpServerOptions options = Options();
  options.read_timeout = 200ms;
  StartServer(options, EchoOrPark());
  Client partial(server_->port());
  Client silent(server_->port());
  ASSERT_FALSE(partial.WriteRaw("GET /echo HTTP/1.1\r\nHost: 127"));
  Response res;
  ASSERT_FALSE(partial.ReadResponse(res));  // within the client's 5 s
  ExpectProblem(res, 408, "read_timeout (200 ms)");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(ClosedByServer(partial.WaitForClose()));
  // A connection that never sent a byte is closed without an answer.
  std::size_t received = 1;
  EXPECT_TRUE(ClosedByServer(silent.WaitForClose(&received)));
  EXPECT_EQ(received, 0u);
  // The server still serves.
  Client fresh(server_->port());
  ASSERT_FALSE(fresh.Fetch(http::verb::get, "/echo", res, "ok"));
  EXPECT_EQ(res.body(), "ok");
}

TEST_F(GatewayHttpServerTest, AnIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  HttpServerOptions options = Options();
  options.idle_timeout = 150ms;  // read_timeout stays 10 s
  StartServer(options, EchoOrPark());
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/echo", res));
  auto before = std::chrono::steady_clock::now();
  std::size_t received = 1;
  EXPECT_TRUE(ClosedByServer(client.WaitForClose(&received)));
  EXPECT_EQ(received, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 4s);  // long before read_timeout
}

TEST_F(GatewayHttpServerTest, AClientThatDoesNotTakeItsResponseIsClosedAfterTheWriteTimeout) {
  HttpServerOptions options = Options();
  options.write_timeout = 200ms;
  const std::string big(64 * 1024 * 1024, 'z');  // more than the socket buffers hold
  std::atomic<bool> answered{false};
  StartServer(options, [&](HttpRequest, Responder responder) {
    responder.Send(Text(200, big));
    answered = true;
  });
  Client client(server_->port());
  http::request<http::string_body> req{http::verb::get, "/big", 11};
  req.set(http::field::host, "x");
  ASSERT_FALSE(client.Write(req));
  ASSERT_TRUE(WaitUntil([&] { return answered.load(); }));
  // The write is stuck; Shutdown waits for it up to its grace (10 s) unless the write
  // timeout ends it first.
  auto before = std::chrono::steady_clock::now();
  server_->Shutdown(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  std::size_t received = 0;
  beast::error_code ec = client.WaitForClose(&received);
  EXPECT_TRUE(ClosedByServer(ec)) << ec.message();
  EXPECT_LT(received, big.size());
}

TEST_F(GatewayHttpServerTest, AtTheConnectionLimitTheOldestIdleConnectionIsClosed) {
  HttpServerOptions options = Options();
  options.max_connections = 2;
  StartServer(options, EchoOrPark());
  Client first(server_->port());
  Client second(server_->port());
  Response res;
  ASSERT_FALSE(first.Fetch(http::verb::get, "/echo", res));  // then idle, longest
  ASSERT_FALSE(second.Fetch(http::verb::get, "/echo", res));
  Client third(server_->port());
  ASSERT_FALSE(third.Fetch(http::verb::get, "/echo", res, "third"));
  EXPECT_EQ(res.body(), "third");
  EXPECT_TRUE(ClosedByServer(first.WaitForClose()));
  ASSERT_FALSE(second.Fetch(http::verb::get, "/echo", res, "second"));  // untouched
  EXPECT_EQ(res.body(), "second");
}

TEST_F(GatewayHttpServerTest, AConnectionBusyWithARequestIsNotEvicted) {
  HttpServerOptions options = Options();
  options.max_connections = 1;
  StartServer(options, EchoOrPark());
  auto busy = std::async(std::launch::async, [port = server_->port()] {
    Client client(port);
    Response res;
    beast::error_code ec = client.Fetch(http::verb::get, "/park", res);
    return std::make_pair(ec, res);
  });
  ASSERT_TRUE(parked_.WaitFor(1));
  Client refused(server_->port());  // the kernel completes the handshake; the server closes
  Response res;
  beast::error_code ec = refused.Fetch(http::verb::get, "/echo", res);
  EXPECT_TRUE(ClosedByServer(ec) || ec == http::error::end_of_stream) << ec.message();
  parked_.at(0).Send(Text(200, "busy"));
  auto [busy_ec, busy_res] = busy.get();
  ASSERT_FALSE(busy_ec) << busy_ec.message();
  EXPECT_EQ(busy_res.body(), "busy");
}

TEST_F(GatewayHttpServerTest, OneClientIsEvictedBeforeAnother) {
  HttpServerOptions options = Options();
  options.max_connections_per_client = 1;
  StartServer(options, EchoOrPark());
  Client a(server_->port(), "127.0.0.2");
  Client b(server_->port(), "127.0.0.3");
  ASSERT_FALSE(a.connect_error());
  ASSERT_FALSE(b.connect_error());
  Response res;
  ASSERT_FALSE(a.Fetch(http::verb::get, "/echo", res));  // idle longest
  ASSERT_FALSE(b.Fetch(http::verb::get, "/echo", res));
  Client a2(server_->port(), "127.0.0.2");
  ASSERT_FALSE(a2.Fetch(http::verb::get, "/echo", res, "a2"));
  EXPECT_EQ(res.body(), "a2");
  EXPECT_TRUE(ClosedByServer(a.WaitForClose()));
  ASSERT_FALSE(b.Fetch(http::verb::get, "/echo", res, "b"));  // another client's: kept
  EXPECT_EQ(res.body(), "b");
}

TEST_F(GatewayHttpServerTest, ShutdownFinishesAnInFlightRequestAndRefusesNewConnections) {
  StartServer(Options(), EchoOrPark());
  const uint16_t port = server_->port();
  Client idle(port);
  Response res;
  ASSERT_FALSE(idle.Fetch(http::verb::get, "/echo", res));
  auto waiting = std::async(std::launch::async, [port] {
    Client client(port);
    Response r;
    beast::error_code ec = client.Fetch(http::verb::post, "/park", r, "payload");
    return std::make_pair(ec, r);
  });
  ASSERT_TRUE(parked_.WaitFor(1));
  ASSERT_EQ(server_->InFlight(), 1u);

  auto shutdown = std::async(std::launch::async, [&] {
    auto before = std::chrono::steady_clock::now();
    server_->Shutdown(10s);
    return std::chrono::steady_clock::now() - before;
  });
  // The handler is told; the idle connection closes at once; no new connection is taken.
  ASSERT_TRUE(WaitUntil([&] { return parked_.at(0).Abandoned(); }));
  EXPECT_TRUE(ClosedByServer(idle.WaitForClose()));
  Client late(port);
  if (!late.connect_error()) {
    EXPECT_TRUE(ClosedByServer(late.WaitForClose()));
  } else {
    EXPECT_EQ(late.connect_error(), asio::error::connection_refused);
  }
  EXPECT_EQ(shutdown.wait_for(20ms), std::future_status::timeout) << "did not wait";

  parked_.at(0).Send(Text(200, "finished"));
  auto [ec, answer] = waiting.get();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(answer.body(), "finished");
  EXPECT_FALSE(answer.keep_alive());
  EXPECT_LT(shutdown.get(), 5s);
  EXPECT_EQ(server_->InFlight(), 0u);
  server_->Shutdown(10s);  // idempotent, and immediate
}

TEST_F(GatewayHttpServerTest, ShutdownWithAnUnansweredRequestReturnsAfterTheGrace) {
  StartServer(Options(), EchoOrPark());
  Client client(server_->port());
  http::request<http::string_body> req{http::verb::get, "/park", 11};
  req.set(http::field::host, "x");
  ASSERT_FALSE(client.Write(req));
  ASSERT_TRUE(parked_.WaitFor(1));

  auto before = std::chrono::steady_clock::now();
  server_->Shutdown(300ms);
  auto took = std::chrono::steady_clock::now() - before;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 3s);
  std::size_t received = 1;
  EXPECT_TRUE(ClosedByServer(client.WaitForClose(&received)));
  EXPECT_EQ(received, 0u);
  EXPECT_TRUE(parked_.at(0).Abandoned());
  EXPECT_EQ(server_->InFlight(), 0u);
  server_.reset();
  parked_.Clear();  // dropped unsent after the server is gone: the 500 goes nowhere
}

TEST_F(GatewayHttpServerTest, AResponderIsAbandonedWhenTheClientCloses) {
  StartServer(Options(), EchoOrPark());
  {
    Client client(server_->port());
    http::request<http::string_body> req{http::verb::get, "/park", 11};
    req.set(http::field::host, "x");
    ASSERT_FALSE(client.Write(req));
    ASSERT_TRUE(parked_.WaitFor(1));
    EXPECT_FALSE(parked_.at(0).Abandoned());
    EXPECT_EQ(server_->InFlight(), 1u);
    client.Close();
  }
  EXPECT_TRUE(WaitUntil([&] { return parked_.at(0).Abandoned(); }));
  EXPECT_EQ(server_->InFlight(), 0u);
  parked_.at(0).Send(Text(200, "nobody"));  // a no-op
  // The server goes on.
  Client next(server_->port());
  Response res;
  ASSERT_FALSE(next.Fetch(http::verb::get, "/echo", res, "on"));
  EXPECT_EQ(res.body(), "on");
}

TEST_F(GatewayHttpServerTest, SeveralIoThreadsRunHandlersAtOnce) {
  HttpServerOptions options = Options();
  options.threads = 2;
  // Each handler waits (bounded) until both are running: only two I/O threads can do it.
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  StartServer(options, [&](HttpRequest, Responder responder) {
    std::unique_lock lock(mu);
    ++entered;
    cv.notify_all();
    bool together = cv.wait_for(lock, kWaitLimit, [&] { return entered >= 2; });
    responder.Send(Text(200, together ? "together" : "alone"));
  });
  std::vector<std::future<std::string>> bodies;
  for (int i = 0; i < 2; ++i) {
    bodies.push_back(std::async(std::launch::async, [port = server_->port()] {
      Client client(port);
      Response res;
      beast::error_code ec = client.Fetch(http::verb::get, "/", res);
      return ec ? ec.message() : res.body();
    }));
  }
  for (auto& body : bodies) EXPECT_EQ(body.get(), "together");
}

TEST_F(GatewayHttpServerTest, ConcurrentClientsEachGetTheirOwnAnswers) {
  HttpServerOptions options = Options();
  options.threads = 3;
  // Half the answers come from a worker thread, half from the handler itself.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, Responder>> work;
  bool stop = false;
  std::thread worker([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !work.empty(); });
      if (work.empty()) return;
      auto [body, responder] = std::move(work.front());
      work.pop_front();
      lock.unlock();
      responder.Send(Text(200, "worker:" + body));
      lock.lock();
    }
  });
  StartServer(options, [&](HttpRequest request, Responder responder) {
    if (request.query == "later") {
      std::lock_guard lock(mu);
      work.emplace_back(std::move(request.body), std::move(responder));
      cv.notify_all();
      return;
    }
    responder.Send(Text(200, "inline:" + request.body));
  });
  constexpr int kClients = 6;
  constexpr int kRequests = 25;
  std::vector<std::future<int>> failures;
  for (int c = 0; c < kClients; ++c) {
    failures.push_back(std::async(std::launch::async, [c, port = server_->port()] {
      Client client(port);
      int failed = 0;
      for (int i = 0; i < kRequests; ++i) {
        std::string body = std::to_string(c) + "-" + std::to_string(i);
        bool later = i % 2 == 0;
        Response res;
        beast::error_code ec = client.Fetch(http::verb::post, later ? "/r?later" : "/r", res, body);
        if (ec || res.body() != (later ? "worker:" : "inline:") + body) {
          ADD_FAILURE() << "client " << c << " request " << i << ": "
                        << (ec ? ec.message() : res.body());
          ++failed;
        }
      }
      return failed;
    }));
  }
  for (auto& f : failures) EXPECT_EQ(f.get(), 0);
  EXPECT_EQ(server_->InFlight(), 0u);
  {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  }
  worker.join();
}

TEST(GatewayHttpServerStartTest, RefusesBadOptionsAndBusyPorts) {
  auto handler = [](HttpRequest, Responder responder) { responder.Send(HttpResponse{}); };
  auto expect_invalid = [&](HttpServerOptions options, const char* what) {
    auto started = HttpServer::Start(std::move(options), handler);
    ASSERT_FALSE(started.ok()) << what;
    EXPECT_EQ(started.error().code, http_errc::kInvalidArgument) << what;
  };
  HttpServerOptions o;
  o.address = "localhost";
  expect_invalid(o, "a name, not an address");
  o = {};
  o.threads = 0;
  expect_invalid(o, "no thread");
  o = {};
  o.max_header_bytes = 0;
  expect_invalid(o, "max_header_bytes");
  o = {};
  o.max_body_bytes = 0;
  expect_invalid(o, "max_body_bytes");
  o = {};
  o.read_timeout = 0ms;
  expect_invalid(o, "read_timeout");
  o = {};
  o.write_timeout = 0ms;
  expect_invalid(o, "write_timeout");
  o = {};
  o.idle_timeout = 0ms;
  expect_invalid(o, "idle_timeout");
  o = {};
  o.max_connections = 0;
  expect_invalid(o, "max_connections");
  o = {};
  o.max_connections_per_client = 0;
  expect_invalid(o, "max_connections_per_client");
  auto no_handler = HttpServer::Start({}, nullptr);
  ASSERT_FALSE(no_handler.ok());
  EXPECT_EQ(no_handler.error().code, http_errc::kInvalidArgument);

  auto first = HttpServer::Start({}, handler);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  HttpServerOptions same;
  same.port = (*first)->port();
  auto second = HttpServer::Start(same, handler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, http_errc::kBind);
  EXPECT_NE(second.error().ToString().find("cannot listen"), std::string::npos);

  HttpServerOptions v6;
  v6.address = "::1";
  auto ipv6 = HttpServer::Start(v6, handler);  // no IPv6 loopback in some sandboxes
  if (ipv6.ok()) {
    EXPECT_NE((*ipv6)->port(), 0);
  } else {
    EXPECT_EQ(ipv6.error().code, http_errc::kBind);
  }
}

}  // namespace
}  // namespace pathway::gateway
