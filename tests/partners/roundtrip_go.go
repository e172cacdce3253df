// The Go code protoc-gen-go generates from proto/ works with google.golang.org/protobuf
// 1.28.1: an Envelope and a MessageOutcome survive marshalling and unmarshalling, and the
// schema's `required` option is readable. Run by tests/partners/docs_commands_test.sh
// codegen-go as gen/go/cmd/roundtrip.
package main

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	pathwayv1 "pathway.dev/proto/pathway/v1"
)

func check(ok bool, what string) {
	if !ok {
		fmt.Println("FAIL:", what)
		os.Exit(1)
	}
}

func main() {
	e := &pathwayv1.Envelope{
		EventId:    "3f2b9c1e-8d4a-4f6b-9e2d-7a1c5b0e4d93",
		OccurredAt: timestamppb.Now(),
		Source:     &pathwayv1.Source{Agency: "Y00001", System: "roundtrip"},
		Payload: &pathwayv1.Envelope_ReferralSubmitted{ReferralSubmitted: &pathwayv1.ReferralSubmitted{
			ReferralId: "RT-1",
			Child: &pathwayv1.ChildIdentity{NhsNumber: "9434765919", GivenName: "Test", FamilyName: "Child",
				DateOfBirth: &pathwayv1.Date{Year: 2019, Month: 6, Day: 14}},
			Referrer:   &pathwayv1.Referrer{Agency: "Y00001"},
			Reason:     pathwayv1.ReferralReason_REFERRAL_REASON_SPEECH_LANGUAGE,
			ReceivedOn: &pathwayv1.Date{Year: 2025, Month: 3, Day: 10},
		}},
	}
	b, err := proto.Marshal(e)
	check(err == nil, "marshal")
	var back pathwayv1.Envelope
	check(proto.Unmarshal(b, &back) == nil, "unmarshal")
	check(proto.Equal(&back, e), "the Envelope did not round-trip")
	field := back.GetReferralSubmitted().GetChild().ProtoReflect().Descriptor().Fields().ByName("nhs_number")
	required, _ := proto.GetExtension(field.Options(), pathwayv1.E_Required).(bool)
	check(required, "the (pathway.v1.required) option is not readable")

	o := &pathwayv1.MessageOutcome{OutcomeId: "pathway.inbound.v1/3/42", InboundEventId: e.EventId,
		Result: &pathwayv1.MessageOutcome_Rejected{Rejected: &pathwayv1.CommandRejected{
			Violations: []*pathwayv1.Violation{{Field: "referral_submitted.reason", Rule: "required"}}}}}
	b, err = proto.Marshal(o)
	check(err == nil, "marshal outcome")
	var backO pathwayv1.MessageOutcome
	check(proto.Unmarshal(b, &backO) == nil, "unmarshal outcome")
	check(backO.GetRejected().GetViolations()[0].GetRule() == "required", "violations")
	fmt.Println("go: Envelope and MessageOutcome round-trip")
}
