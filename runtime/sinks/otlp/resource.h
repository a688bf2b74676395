// The resource every OTLP export describes: this probed on this host. service.name is the
// setting, else the policy's name; resource_attributes ("k=v,k2=v2", the OTEL_RESOURCE_ATTRIBUTES
// syntax) adds or overrides attributes.
#pragma once

#include <string>

#include "common/result.h"
#include "runtime/sinks/otlp/otlp_model.h"

namespace probe::otlp {

Result<Resource> make_resource(const std::string& service_name, const std::string& resource_attributes);

// The version reported as telemetry.sdk.version and the scope version.
const char* probekit_version();

}  // namespace probe::otlp
