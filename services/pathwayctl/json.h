// pathwayctl's JSON writer and text forms: services/operations/report_json.h.
#pragma once

#include "services/operations/report_json.h"

namespace pathway::ctl {
using namespace pathway::operations::report;  // NOLINT(google-build-using-namespace)
}  // namespace pathway::ctl
