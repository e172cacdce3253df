// pathway-readload: timeline reads through the gateway, for issue 14's target (10,000
// timeline reads/s with p99 under 20 ms on this 2-core machine). bench/gateway_reads.sh
// starts the stack and runs it; docs/performance.md has the command and the figures.
//
//   pathway-readload --base http://127.0.0.1:PORT --token-file FILE
//                    [--children N (100)] [--connections C (16)] [--seconds S (20)]
//
// Setup: N referrals by a clinician over HTTP (waited for), then each child found by
// NHS number (POST /v1/children/search). Load: C keep-alive connections, each a closed
// loop of GET /v1/children/<id>/timeline?events=10 over the children in turn, for S
// seconds (after 2 s of warm-up). Prints one JSON line: reads/s, p50/p95/p99/max in
// ms, and any answer other than 200 (counted, never retried).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "common/flags.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "pathway-readload: " << why << "\n";
  std::exit(1);
}

// The i-th valid NHS number of a range no demo uses (modulus 11 check digit).
std::string NhsNumber(long i) {
  for (long n = i;; ++n) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "777%07ld", n % 10000000);
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (digits[k] - '0') * (10 - k);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;
    digits[9] = static_cast<char>('0' + check);
    digits[10] = '\0';
    return digits;
  }
}

// One keep-alive connection to the gateway.
class Client {
 public:
  Client(asio::io_context& io, const std::string& host, const std::string& port)
      : stream_(io), host_(host) {
    tcp::resolver resolver(io);
    stream_.connect(resolver.resolve(host, port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  // The status and body; reconnects never: a closed connection is a failure.
  std::pair<int, std::string> Call(http::verb verb, const std::string& target,
                                   const std::string& token, const std::string& body = {},
                                   const std::string& prefer = {}) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::authorization, "Bearer " + token);
    if (!prefer.empty()) req.set("Prefer", prefer);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream_, req);
    http::response<http::string_body> res;
    buffer_.clear();
    http::read(stream_, buffer_, res);
    return {static_cast<int>(res.result_int()), std::move(res.body())};
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string host_;
};

std::string Field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  auto at = json.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

}  // namespace

int main(int argc, char** argv) {
  std::string base, token_file;
  long children = 100, connections = 16, seconds = 20;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) Die("missing value for " + arg);
    std::string v = argv[++i];
    if (arg == "--base") {
      base = v;
    } else if (arg == "--token-file") {
      token_file = v;
    } else if (arg == "--children" || arg == "--connections" || arg == "--seconds") {
      auto n = pathway::WholeNumber(v, 1, 1'000'000);
      if (!n) Die(arg + " must be a positive whole number");
      (arg == "--children" ? children : arg == "--connections" ? connections : seconds) = *n;
    } else {
      Die("unknown flag " + arg);
    }
  }
  if (base.rfind("http://", 0) != 0) Die("--base http://HOST:PORT is required");
  const std::string hostport = base.substr(7);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) Die("--base needs a port");
  const std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  std::ifstream in(token_file);
  std::string token;
  if (!(in >> token)) Die("cannot read a token from " + token_file);

  asio::io_context io;
  std::vector<std::string> ids;
  {
    Client setup(io, host, port);
    for (long c = 0; c < children; ++c) {
      const std::string nhs = NhsNumber(c * 13);
      std::ostringstream referral;
      referral
          << R"({"referralSubmitted":{"referralId":"BENCH-)" << c << R"(","child":{"nhsNumber":")"
          << nhs
          << R"(","givenName":"Bench","familyName":"Child","dateOfBirth":{"year":2018,"month":1,"day":1}},)"
          << R"("referrer":{"agency":"RXX01","role":"GP"},"reason":"REFERRAL_REASON_ATTENTION",)"
          << R"("receivedOn":{"year":2026,"month":1,"day":5}}})";
      auto [status, body] = setup.Call(http::verb::post, "/v1/commands/referral_submitted", token,
                                       referral.str(), "wait=20");
      if (status != 200 && status != 202) Die("referral " + std::to_string(status) + ": " + body);
    }
    for (long c = 0; c < children; ++c) {
      const std::string search = R"({"nhsNumber":")" + NhsNumber(c * 13) + "\"}";
      std::string id;
      for (int attempt = 0; attempt < 100 && id.empty(); ++attempt) {
        auto [status, body] = setup.Call(http::verb::post, "/v1/children/search", token, search);
        if (status == 200) id = Field(body, "childId");
        if (status != 200 && status != 503 && status != 404) {
          Die("search " + std::to_string(status) + ": " + body);
        }
        if (id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // bounded
      }
      if (id.empty()) Die("child " + std::to_string(c) + " not found after 100 searches");
      ids.push_back(id);
    }
  }

  std::atomic<bool> measuring{false}, stop{false};
  std::mutex mu;
  std::vector<double> latencies_ms;
  long errors = 0;
  std::vector<std::thread> threads;
  for (long t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context own;
      Client client(own, host, port);
      std::vector<double> mine;
      long my_errors = 0;
      for (size_t i = static_cast<size_t>(t); !stop.load(); ++i) {
        const std::string target = "/v1/children/" + ids[i % ids.size()] + "/timeline?events=10";
        const auto start = Clock::now();
        int status = 0;
        try {
          status = client.Call(http::verb::get, target, token).first;
        } catch (const std::exception&) {
          status = -1;
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (!measuring.load()) continue;
        mine.push_back(ms);
        if (status != 200) ++my_errors;
        if (status == -1) break;  // the connection is gone
      }
      std::lock_guard lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
      errors += my_errors;
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // warm-up, not measured
  measuring = true;
  const auto begin = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  measuring = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  stop = true;
  for (auto& t : threads) t.join();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  std::printf(
      "{\"children\":%ld,\"connections\":%ld,\"seconds\":%.1f,\"reads\":%zu,\"reads_per_s\":%.0f,"
      "\"p50_ms\":%.2f,\"p95_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"not_200\":%ld}\n",
      children, connections, elapsed, latencies_ms.size(),
      static_cast<double>(latencies_ms.size()) / elapsed, pct(0.50), pct(0.95), pct(0.99),
      latencies_ms.empty() ? 0.0 : latencies_ms.back(), errors);
  return 0;
}
