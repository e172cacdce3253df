// Sends re-drive commands (CaseRedriveRequested) and migrations (CaseMigrateRequested)
// to the engine on pathway.commands.v1,
// keyed by the subject so the producer places each on the partition the engine keeps
// the child on (the intake stage's key and partitioner), and confirms them. Used by
// `redrive --apply` and `rebuild --repair` (docs/operations.md).
//
// Not thread-safe; delivery reports arrive on the thread that calls Send or Confirm.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/kafka_bus.h"
#include "services/operations/case_reports.h"

namespace pathway::ctl {

class RedriveSender {
 public:
  // `operation_id`: the audited run; with the subject it fixes each command's event id,
  // so a command sent twice in one run is a repeat to the engine.
  static Result<std::unique_ptr<RedriveSender>> Make(const bus::KafkaConfig& config,
                                                     std::string operator_id,
                                                     std::string operation_id,
                                                     const TimeSource& time);
  ~RedriveSender();

  // Queues the re-drive of `subject` without the kept commands `withdraw` names that
  // `source_system` sent (every system's with those ids when it is empty).
  Status Send(const std::string& subject, const std::vector<std::string>& withdraw,
              const std::string& source_system = {});
  // Queues the migration of `subject`'s instances (`request`, its operation id set
  // here): a CaseMigrateRequested (`pathwayctl migrate --apply`).
  Status SendMigration(const std::string& subject, pathway::v1::CaseMigrateRequested request);
  // Waits (bounded) until every command sent is confirmed; the first failure otherwise.
  Status Confirm();

 private:
  RedriveSender(std::string operator_id, std::string operation_id, const TimeSource& time);
  // The operator and operation the commands are stamped with (operations::StampCommand).
  operations::Sender By() const;
  // Queues `command` for `subject` on pathway.commands.v1, waiting out (bounded) a full
  // local queue.
  Status Produce(const std::string& subject, const pathway::v1::Envelope& command);

  std::string operator_id_;
  std::string operation_id_;
  const TimeSource& time_;
  std::unique_ptr<bus::Producer> producer_;
  std::string failure_;  // the first failed delivery
};

}  // namespace pathway::ctl
