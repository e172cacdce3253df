// pathway-devtoken: a development identity provider for the run command and the tests.
// Never for production: a real deployment's tokens come from the partnership's
// identity provider, and the gateway only reads its JWKS.
//
//   pathway-devtoken init --dir DIR
//       writes DIR/dev-issuer.key (mode 0600) and DIR/jwks.json, once (an existing key
//       is kept, so tokens already handed out stay valid)
//   pathway-devtoken sign --dir DIR --sub ID --role ROLE --agency CODE [--team T]
//                         [--issuer URL (default https://dev.pathway.invalid)]
//                         [--audience A (default pathway)] [--hours H (default 12)]
//       prints a signed token
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "common/flags.h"
#include "services/gateway/auth/auth.h"

namespace {
using namespace pathway;
using namespace pathway::gateway;

constexpr const char* kUsage =
    "usage: pathway-devtoken init --dir DIR\n"
    "       pathway-devtoken sign --dir DIR --sub ID --role ROLE --agency CODE [--team T]\n"
    "                             [--issuer URL] [--audience A] [--hours H]\n";

int Usage(const std::string& problem) {
  std::cerr << "pathway-devtoken: " << problem << "\n" << kUsage;
  return 2;
}

int Run(int argc, char** argv) {
  if (argc < 2) return Usage("init or sign?");
  const std::string command = argv[1];
  std::string dir, sub, role, agency, team, issuer = "https://dev.pathway.invalid",
                                            audience = "pathway";
  std::string hours_text = "12";
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(arg + " needs a value");
    const std::string v = argv[++i];
    if (arg == "--dir")
      dir = v;
    else if (arg == "--sub")
      sub = v;
    else if (arg == "--role")
      role = v;
    else if (arg == "--agency")
      agency = v;
    else if (arg == "--team")
      team = v;
    else if (arg == "--issuer")
      issuer = v;
    else if (arg == "--audience")
      audience = v;
    else if (arg == "--hours")
      hours_text = v;
    else
      return Usage("unknown flag " + arg);
  }
  if (dir.empty()) return Usage("--dir is needed");
  const std::string key_file = dir + "/dev-issuer.key";
  if (command == "init") {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    auto issuer_key = std::filesystem::exists(key_file) ? DevIssuer::Load(key_file)
                                                        : DevIssuer::Generate("dev-1");
    if (!issuer_key.ok()) return std::cerr << issuer_key.error().ToString() << "\n", 1;
    if (!std::filesystem::exists(key_file)) {
      if (auto st = issuer_key->SavePrivateKey(key_file); !st.ok()) {
        return std::cerr << st.error().ToString() << "\n", 1;
      }
    }
    if (auto st = issuer_key->SaveJwks(dir + "/jwks.json"); !st.ok()) {
      return std::cerr << st.error().ToString() << "\n", 1;
    }
    std::cout << dir << "/jwks.json\n";
    return 0;
  }
  if (command != "sign") return Usage("init or sign?");
  auto parsed = ParseRole(role);
  if (!parsed) return Usage("--role must be a role name (clinician, caseworker, ...)");
  if (sub.empty() || agency.empty()) return Usage("--sub and --agency are needed");
  const std::optional<long long> hours = WholeNumber(hours_text, 1, 24 * 30);
  if (!hours) return Usage("--hours must be a whole number from 1 to 720");
  auto issuer_key = DevIssuer::Load(key_file);
  if (!issuer_key.ok()) return std::cerr << issuer_key.error().ToString() << "\n", 1;
  RealTimeSource time;
  DevIssuer::Claims claims;
  claims.principal.id = sub;
  claims.principal.role = *parsed;
  claims.principal.agency = agency;
  claims.principal.team = team;
  claims.issuer = issuer;
  claims.audience = audience;
  claims.issued_at = time.Now();
  claims.lifetime = std::chrono::hours(*hours);
  auto token = issuer_key->Sign(claims);
  if (!token.ok()) return std::cerr << token.error().ToString() << "\n", 1;
  std::cout << *token << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pathway-devtoken: " << e.what() << "\n";
    return 1;
  }
}
