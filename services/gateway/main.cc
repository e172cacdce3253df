// pathway-gateway: the HTTP face of pathway (docs/gateway.md). Its own process and
// Kafka clients: a producer to pathway.inbound.v1, a reader of the outcome topics and
// one of pathway.deadletter.v1 (the operations view of dead letters); with
// --engine-token-file also a reader of the engines' directory and a producer of audit
// records.
//
//   pathway-gateway --bootstrap-servers B [--listen HOST:PORT (default 127.0.0.1:8080)]
//                   [--jwks-file F --issuer URL --audience A] [--api-keys-file F]
//                   [--threads N] [--kafka-config FILE] [-X key=value]...
//                   [--web-root DIR] [--dev-sign-ins FILE] [--insecure-cookies]
//                   [--log-level LEVEL]
//
// Runs until SIGTERM or SIGINT, then stops accepting, finishes the requests in flight
// (at most 10 s) and exits 0. Exits 1 on a fatal error, 2 on bad flags.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "common/flags.h"
#include "common/log.h"
#include "services/bus/kafka_bus.h"
#include "services/gateway/api/api.h"
#include "services/gateway/api/bus_io.h"
#include "services/gateway/api/deadletters.h"
#include "services/gateway/api/engine_client.h"
#include "services/gateway/api/gateway.h"
#include "services/gateway/api/operations.h"
#include "services/gateway/api/reads.h"
#include "services/gateway/auth/auth.h"
#include "services/gateway/http/http_server.h"
#include "services/topics.h"

namespace {
using namespace pathway;
using namespace pathway::gateway;
using std::chrono::milliseconds;

// The operations routes' bound on an engine's answer: beyond the engine's own 30 s for a
// dead-letter action, so that the gateway relays the engine's answer.
constexpr milliseconds kOperationTimeout(40'000);
// A dead letter's show carries its original (as JSON, or in hex: twice its size).
constexpr std::size_t kMaxOperationAnswerBytes = 16 << 20;

constexpr const char* kUsage =
    "usage: pathway-gateway --bootstrap-servers HOST:PORT[,...]\n"
    "                       [--listen HOST:PORT (default 127.0.0.1:8080)]\n"
    "                       [--jwks-file FILE --issuer URL --audience NAME (signed-in\n"
    "                        people: bearer tokens signed by the identity provider)]\n"
    "                       [--api-keys-file FILE (partner systems)]\n"
    "                       [--threads N (default 2)] [--kafka-config FILE]\n"
    "                       [--rate-per-minute N (default 1200) --rate-burst N (default\n"
    "                        120): requests per signed-in caller]\n"
    "                       [--failed-sign-ins-per-minute N (default 60, bursts of 30):\n"
    "                        per client address]\n"
    "                       [--web-root DIR (the web app's files, web/dist)]\n"
    "                       [--dev-sign-ins FILE (development only: sign-in buttons for\n"
    "                        the people in scripts/run.sh's file)]\n"
    "                       [--insecure-cookies (session cookies without Secure: plain\n"
    "                        http on 127.0.0.1 in development only)]\n"
    "                       [--engine-token-file FILE (the engines' query token: serves\n"
    "                        reads of children's cases; without it /v1/children is 404)]\n"
    "                       [-X key=value]... [--log-level debug|info|warn|error]\n"
    "Bootstrap servers fall back to $PATHWAY_KAFKA_BOOTSTRAP. At least one of\n"
    "--jwks-file and --api-keys-file is needed: every request is signed in.\n";

int Usage(const std::string& problem) {
  std::cerr << "pathway-gateway: " << problem << "\n" << kUsage;
  return 2;
}

int Run(int argc, char** argv) {
  std::string bootstrap, listen = "127.0.0.1:8080";
  AuthOptions auth_options;
  HttpServerOptions http;
  http.threads = 2;
  bus::KafkaConfig kafka;
  GatewayOptions gateway_options;
  std::string engine_token_file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--bootstrap-servers") {
      if (!value(&bootstrap)) return Usage("--bootstrap-servers needs a value");
    } else if (arg == "--listen") {
      if (!value(&listen)) return Usage("--listen needs HOST:PORT");
    } else if (arg == "--jwks-file") {
      if (!value(&auth_options.jwks_file)) return Usage("--jwks-file needs a file");
    } else if (arg == "--issuer") {
      if (!value(&auth_options.issuer)) return Usage("--issuer needs a value");
    } else if (arg == "--audience") {
      if (!value(&auth_options.audience)) return Usage("--audience needs a value");
    } else if (arg == "--api-keys-file") {
      if (!value(&auth_options.api_keys_file)) return Usage("--api-keys-file needs a file");
    } else if (arg == "--threads") {
      std::optional<long long> n;
      if (!value(&v) || !(n = WholeNumber(v, 1, 64))) return Usage("--threads must be 1 to 64");
      http.threads = static_cast<int>(*n);
    } else if (arg == "--failed-sign-ins-per-minute" || arg == "--rate-per-minute" ||
               arg == "--rate-burst") {
      std::optional<long long> n;
      if (!value(&v) || !(n = WholeNumber(v, 1, 100'000'000))) {
        return Usage(arg + " must be 1 to 100000000");
      }
      const double rate = static_cast<double>(*n);
      if (arg == "--failed-sign-ins-per-minute") {
        gateway_options.failed_sign_ins_per_minute = rate;
        gateway_options.failed_sign_in_burst = std::max(1.0, rate / 2);
      } else {
        (arg == "--rate-burst" ? gateway_options.burst : gateway_options.rate_per_minute) = rate;
      }
    } else if (arg == "--web-root") {
      if (!value(&gateway_options.web_root)) return Usage("--web-root needs a directory");
      std::error_code ec;
      if (!std::filesystem::is_directory(gateway_options.web_root, ec)) {
        return Usage("--web-root " + gateway_options.web_root + " is not a directory");
      }
    } else if (arg == "--dev-sign-ins") {
      if (!value(&gateway_options.dev_sign_ins_file)) return Usage("--dev-sign-ins needs a file");
    } else if (arg == "--engine-token-file") {
      if (!value(&engine_token_file)) return Usage("--engine-token-file needs a file");
    } else if (arg == "--insecure-cookies") {
      gateway_options.secure_cookies = false;
    } else if (arg == "--kafka-config") {
      if (!value(&v)) return Usage("--kafka-config needs a file");
      if (auto s = kafka.LoadPropertiesFile(v); !s) return Usage(s.error().ToString());
    } else if (arg == "-X") {
      if (!value(&v)) return Usage("-X needs key=value");
      if (auto s = kafka.AddSetting(v); !s) return Usage(s.error().ToString());
    } else if (arg == "--log-level") {
      if (!value(&v)) return Usage("--log-level needs a value");
      if (v == "debug")
        log::SetLevel(log::Level::kDebug);
      else if (v == "info")
        log::SetLevel(log::Level::kInfo);
      else if (v == "warn")
        log::SetLevel(log::Level::kWarn);
      else if (v == "error")
        log::SetLevel(log::Level::kError);
      else
        return Usage("--log-level must be debug, info, warn or error");
    } else {
      return Usage("unknown flag " + arg);
    }
  }
  if (auto s = kafka.ResolveBootstrap(bootstrap); !s) return Usage(s.error().ToString());
  if (!SplitHostPort(listen, &http.address, &http.port)) return Usage("--listen needs HOST:PORT");
  if (auth_options.jwks_file.empty() && auth_options.api_keys_file.empty()) {
    return Usage("give --jwks-file or --api-keys-file (or both)");
  }
  std::string engine_token;
  if (!engine_token_file.empty()) {
    auto token = ReadServiceToken(engine_token_file);
    if (!token) return Usage(token.error().ToString());
    engine_token = std::move(*token);
  }

  // Signals are taken by sigwait below, never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  RealTimeSource time;
  auto auth = Authenticator::Open(auth_options, time);
  if (!auth.ok()) {
    log::Error("gateway.auth_config", {{"error", auth.error().ToString()}});
    return 1;
  }
  BusCommandSink sink;
  // A delivery is reported within message.timeout.ms: a person waits at most that long.
  bus::KafkaConfig producer_config = kafka;
  producer_config.settings.try_emplace("message.timeout.ms", "15000");
  producer_config.settings.try_emplace("linger.ms", "1");
  auto producer = bus::NewKafkaProducer(producer_config, sink.DeliveryHandler());
  if (!producer.ok()) {
    log::Error("gateway.producer", {{"error", producer.error().ToString()}});
    return 1;
  }
  sink.Start(std::move(*producer), std::string(topics::kInbound));
  bus::KafkaConfig consumer_config = kafka;
  consumer_config.settings.try_emplace("fetch.wait.max.ms", "20");
  auto consumer = bus::NewKafkaConsumer(consumer_config, "");
  if (!consumer.ok()) {
    log::Error("gateway.consumer", {{"error", consumer.error().ToString()}});
    return 1;
  }
  OutcomeTrackerOptions tracker_options;
  tracker_options.events_topic = topics::kEvents;
  tracker_options.rejections_topic = topics::kRejections;
  auto tracker =
      BusOutcomeTracker::Start(std::move(*consumer), tracker_options, time, milliseconds(30'000));
  if (!tracker.ok()) {
    log::Error("gateway.outcomes", {{"error", tracker.error().ToString()}});
    return 1;
  }
  Api api(ApiOptions{}, sink, **tracker, time);

  // Dead letters for the operations role (docs/gateway.md, "Dead letters"): the newest
  // 10,000, read from the beginning of the topic on a consumer of their own.
  DeadLetterStore dead_letter_store(10'000);
  auto dead_letter_consumer = bus::NewKafkaConsumer(consumer_config, "");
  if (!dead_letter_consumer.ok()) {
    log::Error("gateway.consumer", {{"error", dead_letter_consumer.error().ToString()}});
    return 1;
  }
  auto dead_letter_reader =
      BusDeadLetterReader::Start(std::move(*dead_letter_consumer), std::string(topics::kDeadLetter),
                                 dead_letter_store, milliseconds(30'000));
  if (!dead_letter_reader.ok()) {
    log::Error("gateway.deadletters", {{"error", dead_letter_reader.error().ToString()}});
    return 1;
  }
  DeadLetterApi dead_letters(dead_letter_store);

  // Reads (docs/gateway.md, "Reads"): the engines' directory, their query client and
  // the audit trail's producer, keyed by child.
  // Declared so that the engine client goes first: calls it cuts short still find the
  // ReadApi and the audit sink they answer through.
  MembersDirectory directory;
  std::unique_ptr<BusMemberReader> members;
  BusCommandSink audit;
  std::unique_ptr<ReadApi> reads;
  std::unique_ptr<OperationsApi> operations;
  std::unique_ptr<HttpEngineCaller> engines;
  std::unique_ptr<HttpEngineCaller> operation_engines;
  if (!engine_token.empty()) {
    auto members_consumer = bus::NewKafkaConsumer(consumer_config, "");
    if (!members_consumer.ok()) {
      log::Error("gateway.consumer", {{"error", members_consumer.error().ToString()}});
      return 1;
    }
    auto reader =
        BusMemberReader::Start(std::move(*members_consumer), std::string(topics::kEngineMembers),
                               directory, milliseconds(30'000));
    if (!reader.ok()) {
      log::Error("gateway.members", {{"error", reader.error().ToString()}});
      return 1;
    }
    members = std::move(*reader);
    auto audit_producer = bus::NewKafkaProducer(producer_config, audit.DeliveryHandler());
    if (!audit_producer.ok()) {
      log::Error("gateway.producer", {{"error", audit_producer.error().ToString()}});
      return 1;
    }
    audit.Start(std::move(*audit_producer), std::string(topics::kAudit),
                BusCommandSink::Keying::kSubject);
    engines = std::make_unique<HttpEngineCaller>(EngineCallerOptions{engine_token});
    reads = std::make_unique<ReadApi>(ReadApiOptions{}, directory, *engines, audit, time);
    // Operations wait for the audit trail's confirmations and, for a dead letter, read
    // topics from their start (up to 30 s, operations_service.h), and a show can carry a
    // large original: a caller of their own, with room for both, so that reads keep
    // their short bound.
    operation_engines = std::make_unique<HttpEngineCaller>(
        EngineCallerOptions{engine_token, kOperationTimeout, kMaxOperationAnswerBytes});
    operations = std::make_unique<OperationsApi>(ReadApiOptions{}, directory, *operation_engines);
  }
  Gateway gateway(**auth, api, time, gateway_options, reads.get(), &dead_letters, operations.get());
  auto server = HttpServer::Start(http, [&gateway](HttpRequest request, Responder responder) {
    gateway.Handle(std::move(request), std::move(responder));
  });
  if (!server.ok()) {
    log::Error("gateway.listen", {{"error", server.error().ToString()}});
    return 1;
  }
  gateway.SetReady(true);
  log::Info("gateway.listening",
            {{"address", http.address}, {"port", std::to_string((*server)->port())}});
  // The port on stdout, for scripts that start the gateway on port 0.
  std::cout << "listening on " << http.address << ":" << (*server)->port() << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  log::Info("gateway.stopping", {{"signal", std::to_string(signal)}});
  gateway.SetReady(false);
  (*server)->Shutdown(milliseconds(10'000));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pathway-gateway: " << e.what() << "\n";
    return 1;
  }
}
