#include "services/operations/operation_audit.h"

#include <mutex>

#include "common/crypto.h"
#include "services/topics.h"
#include "workflow/calendar.h"

namespace pathway::operations {
namespace v1 = pathway::v1;

namespace {

constexpr std::string_view kRole = "operations";

std::string ReasonAad(std::string_view operation_id) {
  return "pathway.operations.v1|" + std::string(operation_id);
}

void SetTimestamp(google::protobuf::Timestamp& t, TimePoint at) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
  t.set_seconds(micros / 1'000'000);
  t.set_nanos(static_cast<int32_t>(micros % 1'000'000) * 1000);
}

class KafkaTopicSink final : public AuditSink {
 public:
  KafkaTopicSink(std::string topic, std::chrono::milliseconds timeout)
      : topic_(std::move(topic)), timeout_(timeout) {}

  Status Init(const bus::KafkaConfig& config) {
    auto producer = bus::NewKafkaProducer(config, [this](const bus::Delivery& d) {
      std::lock_guard lock(mu_);
      ++reports_;
      if (d.error) failure_ = d.error_detail;
    });
    if (!producer) return producer.error();
    producer_ = std::move(*producer);
    return {};
  }

  Status Publish(const std::string& key, const v1::Envelope& envelope) override {
    {
      std::lock_guard lock(mu_);
      reports_ = 0;
      failure_.clear();
    }
    if (Status s = producer_->Produce(topic_, key, envelope.SerializeAsString(), 0); !s) {
      return s;
    }
    if (Status s = producer_->Flush(timeout_); !s) return s;
    std::lock_guard lock(mu_);
    if (reports_ == 0 || !failure_.empty()) {
      return Error{bus::make_error_code(bus::errc::kDelivery),
                   "the audit record was not confirmed: " +
                       (failure_.empty() ? std::string("no delivery report") : failure_)};
    }
    return {};
  }

 private:
  std::string topic_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<bus::Producer> producer_;
  std::mutex mu_;  // delivery reports arrive on the thread that polls (Flush's)
  size_t reports_ = 0;
  std::string failure_;
};

}  // namespace

Result<std::unique_ptr<AuditSink>> NewKafkaSink(const bus::KafkaConfig& config, std::string topic,
                                                std::chrono::milliseconds timeout) {
  auto sink = std::make_unique<KafkaTopicSink>(std::move(topic), timeout);
  if (Status s = sink->Init(config); !s) return s.error();
  return std::unique_ptr<AuditSink>(std::move(sink));
}

Result<std::unique_ptr<AuditSink>> NewKafkaAuditSink(const bus::KafkaConfig& config,
                                                     std::chrono::milliseconds timeout) {
  return NewKafkaSink(config, std::string(topics::kAudit), timeout);
}

std::string OperationsKey(std::string_view kek) { return HmacSha256(kek, "pathway.operations.v1"); }

Result<std::string> OpenReason(std::string_view kek, const v1::OperationRecorded& op) {
  return AeadOpen(OperationsKey(kek), op.sealed_reason(), ReasonAad(op.operation_id()));
}

OperationAudit::OperationAudit(AuditSink& sink, const Operator& who, Action action, std::string id,
                               std::string sealed_reason, const TimeSource& time)
    : sink_(sink),
      operator_id_(who.operator_id),
      system_(who.system),
      action_(std::move(action)),
      id_(std::move(id)),
      sealed_reason_(std::move(sealed_reason)),
      time_(time) {}

Result<std::unique_ptr<OperationAudit>> OperationAudit::Start(AuditSink& sink, const Operator& who,
                                                              Action action, std::string_view kek,
                                                              const TimeSource& time) {
  auto random = RandomBytes(16);
  if (!random) return random.error();
  std::string id = HexEncode(*random);
  auto sealed = AeadSeal(OperationsKey(kek), who.reason, ReasonAad(id));
  if (!sealed) return sealed.error();
  std::unique_ptr<OperationAudit> audit(
      new OperationAudit(sink, who, std::move(action), std::move(id), std::move(*sealed), time));
  if (Status s = audit->Record(v1::OPERATION_PHASE_STARTED, {}, ""); !s) return s.error();
  return audit;
}

v1::Envelope OperationAudit::Base(std::string event_id) const {
  v1::Envelope e;
  e.set_event_id(std::move(event_id));
  const TimePoint now = time_.Now();
  SetTimestamp(*e.mutable_occurred_at(), now);
  SetTimestamp(*e.mutable_recorded_at(), now);
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system(system_);
  e.mutable_actor()->set_id(operator_id_);
  e.mutable_actor()->set_role(std::string(kRole));
  e.set_correlation_id(id_);
  return e;
}

Status OperationAudit::Record(v1::OperationPhase phase, const Counts& counts,
                              std::string_view detail) {
  // One id per record of the run, derived, so a record sent twice is recognisably one.
  v1::Envelope e = Base(HexEncode(Sha256(id_ + "|" + std::to_string(records_++))).substr(0, 32));
  v1::OperationRecorded* op = e.mutable_operation_recorded();
  op->set_operation_id(id_);
  op->set_operation(action_.operation);
  op->set_phase(phase);
  op->set_operator_id(operator_id_);
  op->set_operator_role(std::string(kRole));
  op->set_sealed_reason(sealed_reason_);
  op->set_scope(action_.scope);
  op->set_dry_run(action_.dry_run);
  for (const auto& [name, value] : counts) {
    auto* c = op->add_counts();
    c->set_name(name);
    c->set_value(value);
  }
  op->set_detail(std::string(detail));
  *op->mutable_at() = e.recorded_at();
  return sink_.Publish("operation:" + id_, e);
}

Status OperationAudit::ChildShown(std::string_view subject_key) {
  v1::Envelope e = Base(HexEncode(Sha256(id_ + "|" + std::to_string(records_++))).substr(0, 32));
  e.set_subject_key(std::string(subject_key));
  v1::AuditRecorded* a = e.mutable_audit_recorded();
  a->set_action(v1::AUDIT_ACTION_OPERATIONS_INSPECT);
  a->set_actor_id(operator_id_);
  a->set_actor_role(std::string(kRole));
  a->set_agency("pathway");
  a->set_purpose("operations");
  a->set_cause_event_id(id_);
  *a->mutable_on() = workflow::ToProto(workflow::LondonDate(time_.Now()));
  return sink_.Publish(std::string(subject_key), e);
}

Status OperationAudit::Finish(const Counts& counts) {
  return Record(v1::OPERATION_PHASE_FINISHED, counts, "");
}
Status OperationAudit::Fail(std::string_view detail, const Counts& counts) {
  return Record(v1::OPERATION_PHASE_FAILED, counts, detail);
}
Status OperationAudit::Interrupted(const Counts& counts) {
  return Record(v1::OPERATION_PHASE_INTERRUPTED, counts, "");
}

}  // namespace pathway::operations
