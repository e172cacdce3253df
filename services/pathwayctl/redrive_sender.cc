#include "services/pathwayctl/redrive_sender.h"

#include <chrono>

#include "pathway/v1/envelope.pb.h"
#include "services/operations/case_reports.h"
#include "services/topics.h"

namespace pathway::ctl {

RedriveSender::RedriveSender(std::string operator_id, std::string operation_id,
                             const TimeSource& time)
    : operator_id_(std::move(operator_id)), operation_id_(std::move(operation_id)), time_(time) {}

RedriveSender::~RedriveSender() = default;

Result<std::unique_ptr<RedriveSender>> RedriveSender::Make(const bus::KafkaConfig& config,
                                                           std::string operator_id,
                                                           std::string operation_id,
                                                           const TimeSource& time) {
  std::unique_ptr<RedriveSender> sender(
      new RedriveSender(std::move(operator_id), std::move(operation_id), time));
  auto producer = bus::NewKafkaProducer(config, [s = sender.get()](const bus::Delivery& d) {
    if (d.error && s->failure_.empty()) s->failure_ = d.error_detail;
  });
  if (!producer) return producer.error();
  sender->producer_ = std::move(*producer);
  return sender;
}

Status RedriveSender::Send(const std::string& subject, const std::vector<std::string>& withdraw,
                           const std::string& source_system) {
  return Produce(subject,
                 operations::RedriveCommand(subject, withdraw, source_system, By(), time_.Now()));
}

Status RedriveSender::SendMigration(const std::string& subject,
                                    pathway::v1::CaseMigrateRequested request) {
  pathway::v1::Envelope e;
  request.set_operation_id(operation_id_);
  *e.mutable_case_migrate_requested() = std::move(request);
  return Produce(subject,
                 operations::StampCommand("migrate", subject, By(), time_.Now(), std::move(e)));
}

operations::Sender RedriveSender::By() const { return {operator_id_, operation_id_, "pathwayctl"}; }

Status RedriveSender::Produce(const std::string& subject, const pathway::v1::Envelope& e) {
  const std::string value = e.SerializeAsString();
  // A full local queue is waited out (bounded): the run is a batch, not a live path.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(35);
  for (;;) {
    Status s = producer_->Produce(std::string(topics::kCommands), subject, value, 0);
    if (s) return {};
    if (s.error().code != bus::make_error_code(bus::errc::kQueueFull) ||
        std::chrono::steady_clock::now() > deadline) {
      return s;
    }
    producer_->Poll(std::chrono::milliseconds(100));
  }
}

Status RedriveSender::Confirm() {
  if (Status s = producer_->Flush(std::chrono::seconds(35)); !s) return s;
  if (!failure_.empty()) return Error{bus::make_error_code(bus::errc::kDelivery), failure_};
  return {};
}

}  // namespace pathway::ctl
