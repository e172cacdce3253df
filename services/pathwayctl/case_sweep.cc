#include "services/pathwayctl/case_sweep.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <map>

#include "common/crypto.h"
#include "services/pathwayctl/progress.h"
#include "workflow/calendar.h"
#include "workflow/case_step.h"
#include "workflow/clock.h"
#include "workflow/identifiers.h"

namespace pathway::ctl {
namespace {

std::optional<Place> ParseResume(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view number = text.substr(0, colon);
  auto p = ParsePositiveInt(number);
  if (number != "0" && (!p || *p > INT32_MAX)) return std::nullopt;
  std::string key(text.substr(colon + 1));
  if (!workflow::IsSubjectKey(key)) return std::nullopt;
  return Place{p ? static_cast<int32_t>(*p) : 0, std::move(key)};
}

}  // namespace

void ScopeFlags::AddTo(std::vector<Flag>& flags) {
  flags.push_back({"--all", false, Set(all, true)});
  flags.push_back({"--partition", true, Store(partition)});
  flags.push_back({"--subject-key", true, Store(subject_key)});
  flags.push_back({"--nhs-number-file", true, Store(nhs_file)});
  flags.push_back({"--instance", true, Store(instance)});
  flags.push_back({"--resume-after", true, Store(resume_after)});
}

Result<Scope> ResolveScope(const ScopeFlags& flags, const EngineData& data, ScopeError& error) {
  const auto bad = [&error](std::string message, bool usage = true) {
    error = {std::move(message), usage};
    return Error{std::make_error_code(std::errc::invalid_argument), error.message};
  };
  const int named = flags.all + !flags.partition.empty() + !flags.subject_key.empty() +
                    !flags.nhs_file.empty() + !flags.instance.empty();
  if (named != 1) {
    return bad(
        "name one scope: --all, --partition, --subject-key, --nhs-number-file or --instance");
  }
  Scope scope;
  if (!flags.partition.empty()) {
    auto p = ParsePositiveInt(flags.partition);
    if (flags.partition != "0" && (!p || *p > INT32_MAX)) {
      return bad("--partition must be a partition number");
    }
    scope.partition = p ? static_cast<int32_t>(*p) : 0;
    if (std::find(data.partitions.begin(), data.partitions.end(), *scope.partition) ==
        data.partitions.end()) {
      return bad("no store of partition " + flags.partition + " in " + data.data_dir, false);
    }
  }
  if (!flags.subject_key.empty()) {
    if (!workflow::IsSubjectKey(flags.subject_key)) {
      return bad("--subject-key must be 64 lower-case hex digits (a child id)");
    }
    scope.subject = flags.subject_key;
  }
  if (!flags.nhs_file.empty()) {
    auto nhs = ReadNhsNumber(flags.nhs_file);
    if (!nhs) return bad(nhs.error().detail);
    scope.subject = data.SubjectKey(*nhs);
  }
  if (!flags.instance.empty()) {
    // Instance ids are 32 lower-case hex digits (workflow's InstanceId).
    if (flags.instance.size() != 32 ||
        !std::all_of(flags.instance.begin(), flags.instance.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
      return bad("--instance must be 32 lower-case hex digits (a pathway instance id)");
    }
    auto found = FindInstance(data, flags.instance);
    if (!found) return bad(found.error().detail, false);
    if (!*found)
      return bad("no case holds instance " + flags.instance + " in " + data.data_dir, false);
    scope.partition = (*found)->partition;
    scope.subject = (*found)->subject;
    scope.instance = flags.instance;
  }
  if (!flags.resume_after.empty()) {
    scope.resume_after = ParseResume(flags.resume_after);
    if (!scope.resume_after) return bad("--resume-after must be P:KEY, as the run printed it");
  }
  scope.text = flags.all                 ? "all"
               : !scope.instance.empty() ? "instance " + scope.instance
               : scope.partition         ? "partition " + std::to_string(*scope.partition)
                                         : "subject " + scope.subject;
  return scope;
}

Result<std::optional<Place>> FindInstance(const EngineData& data, const std::string& instance) {
  for (int32_t p : data.partitions) {
    auto cases = data.OpenPartition(p);
    if (!cases)
      return Error{cases.error().code, data.PartitionDir(p) + ": " + cases.error().detail};
    std::vector<std::string> keys;
    Status scanned = (*cases)->Scan(
        state::ColumnFamily::kCaseState,
        [&](std::string_view key, std::string_view) { keys.push_back(HexEncode(key)); });
    if (!scanned) return scanned.error();
    for (const auto& key : keys) {
      auto loaded = (*cases)->LoadCase(key);
      if (!loaded) return loaded.error();
      if (!loaded->has_value()) continue;
      for (const auto& pi : (*loaded)->pathways()) {
        if (pi.instance_id() == instance) return std::optional<Place>(Place{p, key});
      }
    }
  }
  return std::optional<Place>();
}

Result<SweepEnd> Sweep(const EngineData& data, const Scope& scope, bool plain,
                       const std::function<Status(const SweptCase&)>& visit,
                       const std::function<void(const Place&, const Error&)>& unreadable) {
  // The cases in scope, partition by partition, in key order: a resume point is a
  // place in that order. Counted first (for the progress bar), then read in slices of
  // keys, so a walk over millions of cases holds one slice of ids, not all of them.
  std::vector<int32_t> partitions = data.partitions;
  if (scope.partition) partitions = {*scope.partition};
  const auto& resume = scope.resume_after;
  auto in_scope = [&](int32_t p, const std::string& hex) {
    if (!scope.subject.empty() && hex != scope.subject) return false;
    return !(resume &&
             (p < resume->partition || (p == resume->partition && hex <= resume->subject)));
  };
  uint64_t total = 0;
  std::map<int32_t, uint64_t> counted;
  for (int32_t p : partitions) {
    auto cases = data.OpenPartition(p);
    if (!cases)
      return Error{cases.error().code, data.PartitionDir(p) + ": " + cases.error().detail};
    Status scanned = (*cases)->Scan(
        state::ColumnFamily::kCaseState,
        [&](std::string_view key, std::string_view) { counted[p] += in_scope(p, HexEncode(key)); });
    total += counted[p];
    if (!scanned)
      return Error{scanned.error().code, data.PartitionDir(p) + ": " + scanned.error().detail};
  }

  constexpr size_t kSlice = 1024;
  SweepEnd end;
  Interrupt interrupt;
  Progress progress =
      plain ? Progress("cases", total, stderr, false) : Progress::OnStderr("cases", total);
  for (int32_t p : partitions) {
    if (end.interrupted) break;
    if (resume && p < resume->partition) continue;
    auto cases = data.OpenPartition(p);
    if (!cases)
      return Error{cases.error().code, data.PartitionDir(p) + ": " + cases.error().detail};
    std::string after = resume && resume->partition == p ? resume->subject : std::string();
    std::vector<std::string> keys;
    bool last_slice = false;
    while (!last_slice && !end.interrupted) {
      if (!scope.subject.empty()) {
        // One case: no slices to walk.
        keys.clear();
        if (counted[p] > 0) keys.push_back(scope.subject);
        last_slice = true;
      } else {
        auto slice = (*cases)->CaseKeysAfter(after, kSlice);
        if (!slice)
          return Error{slice.error().code, data.PartitionDir(p) + ": " + slice.error().detail};
        keys = std::move(*slice);
        last_slice = keys.size() < kSlice;
        if (!keys.empty()) after = keys.back();
      }
      for (const std::string& key : keys) {
        if (interrupt.requested()) {
          end.interrupted = true;
          break;
        }
        ++end.cases;
        const Place place{p, key};
        auto stored = (*cases)->LoadCase(key);
        Result<std::vector<pathway::v1::Envelope>> history =
            stored && stored->has_value()
                ? (*cases)->HistoryFrom(key, (*stored)->history_kept_from())
            : stored ? (*cases)->History(key)
                     : Result<std::vector<pathway::v1::Envelope>>(stored.error());
        if (!stored || !history || !stored->has_value()) {
          const Error e = !stored ? stored.error()
                          : !history
                              ? history.error()
                              : Error{std::make_error_code(std::errc::no_such_file_or_directory),
                                      "the case was deleted while the run read it"};
          if (IsKekMismatch(e)) {
            return Error{e.code,
                         "the key-encryption key (" + data.kek_path +
                             ") does not match the one the engine's stores were written with"};
          }
          ++end.unreadable;
          unreadable(place, e);
        } else {
          // As the engine's command stage reads it (workflow::KeepHeld).
          workflow::KeepHeld(*history, **stored);
          if (Status s = visit({place, **stored, *history}); !s) return s.error();
        }
        end.last = place;
        progress.Add();
      }
    }
  }
  progress.Finish();
  return end;
}

void SweptRunFlags::AddTo(std::vector<Flag>& flags) {
  scope.AddTo(flags);
  data.AddTo(flags);
  decisions.AddTo(flags);
  who.AddTo(flags);
  kafka.AddTo(flags);
}

std::optional<int> ParseSweptRunArgs(std::string_view command, std::string_view usage,
                                     std::span<char* const> args, std::vector<Flag> flags,
                                     SweptRunFlags& run_flags) {
  bool help = false;
  flags.push_back({"--help", false, Set(help, true)});
  run_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(command, *error);
  if (help) {
    for (std::string_view text : {usage, kScopeFlagsHelp, kEngineDataFlagsHelp, kDecisionFlagsHelp,
                                  kOperatorFlagsHelp, kKafkaFlagsHelp}) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return kExitOk;
  }
  // Not echoed: a positional argument may well be an NHS number.
  if (!positional.empty()) return UsageError(command, "unexpected positional argument");
  return std::nullopt;
}

std::optional<SweptRunInput> LoadSweptRun(std::string_view command, SweptRunFlags& flags,
                                          const TimeSource& time, int& exit_code) {
  const auto usage = [&](std::string_view message) {
    exit_code = UsageError(command, message);
    return std::nullopt;
  };
  const auto failure = [&](std::string_view message) {
    PrintErr(command, message);
    exit_code = kExitFailure;
    return std::nullopt;
  };
  if (auto error = flags.who.Check()) return usage(*error);
  if (auto error = flags.kafka.Resolve()) return usage(*error);
  auto decisions = LoadDecisions(flags.decisions, time);
  if (!decisions) return usage(decisions.error().detail);
  auto data = EngineData::Load(flags.data);
  if (!data) return failure(data.error().detail);
  ScopeError scope_error;
  auto scope = ResolveScope(flags.scope, *data, scope_error);
  if (!scope) return scope_error.usage ? usage(scope_error.message) : failure(scope_error.message);
  return SweptRunInput{std::move(*decisions), std::move(*data), std::move(*scope)};
}

Result<std::unique_ptr<RedriveSender>> StartSender(std::string_view command,
                                                   const SweptRunFlags& flags,
                                                   OperationAudit& audit, const TimeSource& time) {
  auto made = RedriveSender::Make(flags.kafka.config, flags.who.operator_id, audit.id(), time);
  if (!made) {
    const std::string message = "cannot send to the engine: " + made.error().ToString();
    PrintErr(command, message);
    (void)audit.Fail(message, {});
  }
  return made;
}

Status RecordShown(OperationAudit& audit, const std::string& subject) {
  if (Status s = audit.ChildShown(subject); !s) {
    return Error{s.error().code,
                 "the view of a case was not recorded on "
                 "pathway.audit.v1: " +
                     s.error().detail};
  }
  return {};
}

void PrintUnreadable(const Place& place, const Error& error) {
  std::printf("unreadable: subject %s (partition %d): %s\n", place.subject.c_str(), place.partition,
              error.ToString().c_str());
}

void PrintCorrection(const pathway::v1::CaseCorrected& diff) {
  using operations::report::DateText;
  using operations::report::StatusText;
  for (const auto& d : diff.deadlines()) {
    std::printf(
        "  deadline %s of %s: %s -> %s\n", d.name().c_str(), d.instance_id().c_str(),
        d.has_due_before()
            ? ("due " + DateText(d.due_before()) + " " + StatusText(d.status_before())).c_str()
            : "none",
        d.has_due() ? ("due " + DateText(d.due()) + " " + StatusText(d.status())).c_str()
                    : "none (cancelled)");
  }
  for (const auto& s : diff.steps()) {
    std::printf("  step %s on %s%s of %s: %s\n", s.step().c_str(), DateText(s.on()).c_str(),
                s.implied() ? " (implied)" : "", s.instance_id().c_str(),
                s.withdrawn() ? "withdrawn" : "recorded");
  }
  for (const auto& r : diff.rejections()) {
    std::printf("  refusal of %s (%s): %s\n", r.rejected_event_id().c_str(), r.rule().c_str(),
                r.withdrawn() ? "withdrawn" : "made");
  }
}

std::optional<int> FinishSweptRun(const SweptRunWords& words, const SweptRunInput& input,
                                  OperationAudit& audit, RedriveSender* sender,
                                  const Result<SweepEnd>& end,
                                  const std::function<Counts(const SweepEnd*)>& counts) {
  // What was sent is confirmed before the run says so (also when it stopped early).
  if (sender) {
    if (Status s = sender->Confirm(); !s) {
      // Appended piece by piece: GCC 12 at -O3 misreads "literal" + std::string.
      std::string message(words.sent);
      message += " not confirmed by the broker: ";
      message += s.error().ToString();
      message += " (";
      message += words.again;
      message += ")";
      PrintErr(words.command, message);
      (void)audit.Fail(message, counts(end ? &*end : nullptr));
      return kExitFailure;
    }
  }
  if (!end) {
    PrintErr(words.command, end.error().detail);
    (void)audit.Fail(end.error().detail, counts(nullptr));
    return kExitFailure;
  }
  if (!input.scope.subject.empty() && end->cases == 0 && !input.scope.resume_after) {
    (void)audit.Finish(counts(&*end));
    PrintErr(words.command, "no case with this subject key in " + input.data.data_dir);
    return kExitFailure;
  }
  if (end->interrupted) {
    (void)audit.Interrupted(counts(&*end));
    const std::string after = end->ResumeAfter();
    std::string cases = std::to_string(end->cases);
    cases += words.singular && end->cases == 1 ? " case" : " cases";
    std::string nothing = "(nothing ";
    nothing += words.visited;
    nothing += " yet: run again)";
    std::fprintf(stderr, "%.*s: interrupted after %s; resume with --resume-after %s\n",
                 static_cast<int>(words.command.size()), words.command.data(), cases.c_str(),
                 after.empty() ? nothing.c_str() : after.c_str());
  } else if (Status s = audit.Finish(counts(&*end)); !s) {
    PrintErr(words.command, "the end of the action was not recorded: " + s.error().ToString());
  }
  return std::nullopt;
}

operations::report::Json SweptRunJson(std::string_view operation_id, std::string_view scope,
                                      bool dry_run, std::string_view sent_key, uint64_t sent,
                                      TimePoint now, const SweepEnd& end) {
  operations::report::Json json;
  json.Str("operation_id", operation_id)
      .Str("scope", scope)
      .Bool("dry_run", dry_run)
      .Num(sent_key, static_cast<int64_t>(sent))
      .Str("as_of", workflow::FormatDate(workflow::LondonDate(now)))
      .Bool("interrupted", end.interrupted)
      .Str("resume_after", end.interrupted ? end.ResumeAfter() : "")
      .Num("cases", static_cast<int64_t>(end.cases));
  return json;
}

}  // namespace pathway::ctl
