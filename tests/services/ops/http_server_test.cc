// The operations HTTP server on a real socket (127.0.0.1, an ephemeral port), driven by
// a small Beast client. The client is synchronous from the test's point of view; it runs
// each operation on its own io_context with a deadline, so a broken server fails a test
// instead of hanging it.
#include "services/ops/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// GCC 12 reports a "potential null pointer dereference" inside Asio's scheduler
// (scheduler.ipp, compensating_work_started) once it is inlined at -O2/-O3; the pointer
// is never null there. Silence that one warning for Boost's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "services/ops/metrics.h"

namespace pathway::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

constexpr std::chrono::seconds kClientTimeout{5};

class Client {
 public:
  // `from`: the local address to connect from (any 127.0.0.0/8 address on Linux), so one
  // test can be many clients.
  explicit Client(uint16_t port, const char* from = nullptr) {
    beast::error_code result;
    if (from) {
      stream_.socket().open(tcp::v4(), result);
      if (!result) stream_.socket().bind(tcp::endpoint(asio::ip::make_address(from), 0), result);
      EXPECT_FALSE(result) << result.message();
    }
    stream_.expires_after(kClientTimeout);
    stream_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port),
                          [&](beast::error_code ec) { result = ec; });
    Run();
    EXPECT_FALSE(result) << result.message();
  }

  // One request and its response on this connection.
  beast::error_code Fetch(http::verb verb, const std::string& target, Response& out,
                          int version = 11, const std::string& body = "") {
    http::request<http::string_body> req{verb, target, version};
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    http::async_write(stream_, req, [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    if (result) return result;
    return ReadResponse(out, verb == http::verb::head);
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
    parser.skip(head);
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    http::async_read(stream_, buffer_, parser,
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    if (!result) out = parser.release();
    return result;
  }

  // Reads until the server closes the connection (or the client deadline passes, which
  // reports beast::error::timeout); returns how it ended.
  beast::error_code WaitForClose() {
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    std::function<void()> read_more;
    char scratch[512];
    read_more = [&] {
      stream_.async_read_some(asio::buffer(scratch), [&](beast::error_code ec, std::size_t) {
        if (ec) {
          result = ec;
          return;
        }
        read_more();
      });
    };
    read_more();
    Run();
    return result;
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

// The server closed the connection (cleanly or with a reset), rather than the client
// giving up.
bool ClosedByServer(beast::error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() { registry_.AddCounter("pathway_test_requests_total", "Requests.").Inc(3); }

  Handlers MakeHandlers() {
    Handlers handlers;
    handlers.metrics = [this] {
      if (metrics_throw_) throw std::runtime_error("boom");
      return registry_.Render();
    };
    handlers.live = [this] { return live_.load(); };
    handlers.ready = [this] { return ready_.load(); };
    handlers.ready_detail = [] { return std::string("replaying partition 3"); };
    handlers.ready_notes = [this] { return notes_; };
    return handlers;
  }

  void StartServer(HttpServerOptions options = {}) {
    auto started = HttpServer::Start("127.0.0.1", 0, MakeHandlers(), options);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    server_ = std::move(started).value();
    ASSERT_NE(server_->port(), 0);
  }

  Registry registry_;
  std::atomic<bool> live_{true};
  std::atomic<bool> ready_{false};
  std::atomic<bool> metrics_throw_{false};
  std::string notes_;                   // set before StartServer
  std::unique_ptr<HttpServer> server_;  // last: stopped before the state its handlers use
};

TEST_F(HttpServerTest, MetricsReturnsTheHandlerBody) {
  StartServer();
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/metrics", res));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res.body(), registry_.Render());
  EXPECT_EQ(res.body(),
            "# HELP pathway_test_requests_total Requests.\n"
            "# TYPE pathway_test_requests_total counter\n"
            "pathway_test_requests_total 3\n");
}

TEST_F(HttpServerTest, HeadHasTheLengthButNoBody) {
  StartServer();
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::head, "/metrics", res));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_length], std::to_string(registry_.Render().size()));
  EXPECT_EQ(res.body(), "");
  // The connection is still usable: nothing stray was sent after the header.
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/live", res));
  EXPECT_EQ(res.body(), "live\n");
}

TEST_F(HttpServerTest, ReadinessFollowsTheHandler) {
  StartServer();
  Client client(server_->port());  // one kept-alive connection for all requests
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/ready", res));
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res.body(), "not ready: replaying partition 3\n");
  EXPECT_EQ(res[http::field::content_type], "text/plain; charset=utf-8");

  ready_ = true;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/ready", res));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ready\n");

  ready_ = false;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/ready", res));
  EXPECT_EQ(res.result(), http::status::service_unavailable);
}

TEST_F(HttpServerTest, AReadyServerStillShowsItsNotes) {
  notes_ = "erasure purge pending on partition 2";
  ready_ = true;
  StartServer();
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/ready", res));
  EXPECT_EQ(res.result(), http::status::ok) << "a pending purge does not stop traffic";
  EXPECT_EQ(res.body(), "ready: erasure purge pending on partition 2\n");
}

TEST_F(HttpServerTest, LivenessFollowsTheHandler) {
  StartServer();
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/live?verbose=1", res));  // query ignored
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "live\n");
  live_ = false;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/live", res));
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res.body(), "not live\n");
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  StartServer();
  Client client(server_->port());
  Response res;
  for (const char* target : {"/", "/metricsx", "/health", "/health/ready/", "*"}) {
    ASSERT_FALSE(client.Fetch(http::verb::get, target, res)) << target;
    EXPECT_EQ(res.result(), http::status::not_found) << target;
  }
}

TEST_F(HttpServerTest, OtherMethodsAre405) {
  StartServer();
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::post, "/metrics", res, 11, "x=1"));
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, HEAD");
  ASSERT_FALSE(client.Fetch(http::verb::delete_, "/nothing-here", res));
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
}

TEST_F(HttpServerTest, AThrowingHandlerGives500AndTheServerCarriesOn) {
  StartServer();
  Client client(server_->port());
  Response res;
  metrics_throw_ = true;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/metrics", res));
  EXPECT_EQ(res.result(), http::status::internal_server_error);
  metrics_throw_ = false;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/metrics", res));
  EXPECT_EQ(res.result(), http::status::ok);
}

TEST_F(HttpServerTest, Http10WithoutKeepAliveIsClosedAfterTheResponse) {
  StartServer();
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/health/live", res, 10));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));
}

TEST_F(HttpServerTest, ABodyOverTheLimitIs413) {
  StartServer();
  Client client(server_->port());
  // The declared length is over the limit: the server answers without reading a body.
  ASSERT_FALSE(client.WriteRaw(
      "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.ReadResponse(res));
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));
}

TEST_F(HttpServerTest, HeadersOverTheLimitCloseTheConnection) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::seconds(60);  // so only the limit can close it
  StartServer(options);
  Client client(server_->port());
  ASSERT_FALSE(client.WriteRaw("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(16 * 1024, 'a')));
  // Either the 431 arrives or the close overtakes it as a reset (the server does not
  // drain what it refused); either way the server ends the connection.
  Response res;
  beast::error_code ec = client.ReadResponse(res);
  if (!ec) {
    EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
    ec = client.WaitForClose();
  }
  EXPECT_TRUE(ClosedByServer(ec)) << ec.message();
}

TEST_F(HttpServerTest, SlowClientsAreDisconnectedAfterTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  StartServer(options);
  Client idle(server_->port());
  Client partial(server_->port());
  ASSERT_FALSE(partial.WriteRaw("GET /metrics HTTP/1.1\r\nHost: 127"));
  EXPECT_TRUE(ClosedByServer(idle.WaitForClose()));
  EXPECT_TRUE(ClosedByServer(partial.WaitForClose()));
  // The server still serves.
  Client fresh(server_->port());
  Response res;
  ASSERT_FALSE(fresh.Fetch(http::verb::get, "/health/live", res));
  EXPECT_EQ(res.result(), http::status::ok);
}

TEST_F(HttpServerTest, AtTheLimitTheIdlestConnectionMakesRoom) {
  HttpServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  Client first(server_->port());
  Client second(server_->port());  // accepted after `first` (one I/O thread, FIFO backlog)
  Response res;
  ASSERT_FALSE(second.Fetch(http::verb::get, "/health/live", res));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(ClosedByServer(first.WaitForClose()));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionsAreClosedAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);  // read_timeout stays 10 s
  StartServer(options);
  Client client(server_->port());
  Response res;
  ASSERT_FALSE(client.Fetch(http::verb::get, "/metrics", res));
  EXPECT_EQ(res.result(), http::status::ok);
  // Well within the client's 5 s deadline, and long before the read timeout.
  EXPECT_TRUE(ClosedByServer(client.WaitForClose()));
}

TEST_F(HttpServerTest, OneClientKeepsAtMostItsShareOfConnections) {
  StartServer();  // 64 connections, 8 per client
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<Client>(server_->port()));
    Response res;
    ASSERT_FALSE(idle.back()->Fetch(http::verb::get, "/metrics", res));  // then kept alive
  }
  Client probe(server_->port());
  Response res;
  ASSERT_FALSE(probe.Fetch(http::verb::get, "/health/live", res));
  EXPECT_EQ(res.result(), http::status::ok);
  // The ninth connection from this address closed the one idle longest, and only it.
  EXPECT_TRUE(ClosedByServer(idle[0]->WaitForClose()));
  ASSERT_FALSE(idle[7]->Fetch(http::verb::get, "/health/live", res));
  EXPECT_EQ(res.result(), http::status::ok);
}

TEST_F(HttpServerTest, HealthProbesAreAnsweredWhenIdleClientsHoldEveryConnection) {
  HttpServerOptions options;
  options.max_connections = 8;
  options.max_connections_per_client = 2;
  StartServer(options);
  std::vector<std::unique_ptr<Client>> idle;
  for (const char* from : {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}) {
    for (int i = 0; i < 2; ++i) {
      idle.push_back(std::make_unique<Client>(server_->port(), from));
      Response res;
      ASSERT_FALSE(idle.back()->Fetch(http::verb::get, "/metrics", res)) << from;
    }
  }
  // Every connection is taken by an idle client; the orchestrator's probes still get in.
  for (const char* path : {"/health/live", "/health/ready"}) {
    Client probe(server_->port(), "127.0.0.1");
    Response res;
    ASSERT_FALSE(probe.Fetch(http::verb::get, path, res)) << path;
    EXPECT_EQ(res.result(), std::string_view(path) == "/health/live"
                                ? http::status::ok
                                : http::status::service_unavailable);
  }
  EXPECT_TRUE(ClosedByServer(idle[0]->WaitForClose()));
}

TEST_F(HttpServerTest, DestructorReturnsPromptlyWithClientsConnected) {
  StartServer();  // default 10 s read timeout: the destructor must not wait for it
  Client idle(server_->port());
  Client partial(server_->port());
  Client served(server_->port());
  ASSERT_FALSE(partial.WriteRaw("GET /metrics HTTP/1.1\r\n"));
  Response res;
  ASSERT_FALSE(served.Fetch(http::verb::get, "/health/live", res));  // kept alive

  auto before = std::chrono::steady_clock::now();
  server_.reset();
  auto took = std::chrono::steady_clock::now() - before;
  EXPECT_LT(took, std::chrono::seconds(2));

  EXPECT_TRUE(ClosedByServer(idle.WaitForClose()));
  EXPECT_TRUE(ClosedByServer(partial.WaitForClose()));
  EXPECT_TRUE(ClosedByServer(served.WaitForClose()));
}

TEST(HttpServerStartTest, Errors) {
  Handlers handlers;
  handlers.metrics = [] { return std::string(); };
  handlers.live = [] { return true; };
  handlers.ready = [] { return true; };

  auto bad_address = HttpServer::Start("localhost:80", 0, handlers);
  ASSERT_FALSE(bad_address.ok());
  EXPECT_EQ(bad_address.error().code, errc::kInvalidArgument);

  Handlers missing = handlers;
  missing.ready = nullptr;
  auto no_ready = HttpServer::Start("127.0.0.1", 0, missing);
  ASSERT_FALSE(no_ready.ok());
  EXPECT_EQ(no_ready.error().code, errc::kInvalidArgument);

  HttpServerOptions zero;
  zero.max_request_bytes = 0;
  EXPECT_FALSE(HttpServer::Start("127.0.0.1", 0, handlers, zero).ok());
  HttpServerOptions no_share;
  no_share.max_connections_per_client = 0;
  EXPECT_FALSE(HttpServer::Start("127.0.0.1", 0, handlers, no_share).ok());
  HttpServerOptions no_idle;
  no_idle.idle_timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(HttpServer::Start("127.0.0.1", 0, handlers, no_idle).ok());

  auto first = HttpServer::Start("127.0.0.1", 0, handlers);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto second = HttpServer::Start("127.0.0.1", (*first)->port(), handlers);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, errc::kBind);
  EXPECT_NE(second.error().ToString().find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace pathway::ops
