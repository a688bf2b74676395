// Parses C function prototypes given as `signature = "int SSL_read(SSL *s, void *buf, int num)"`.
#pragma once

#include <optional>
#include <string>

#include "compiler/diag/diagnostics.h"
#include "compiler/plan/plan.h"

namespace probe {

// `range` locates the TOML string; errors point inside it.
std::optional<plan::Signature> parse_signature(const std::string& text, const SourceRange& range,
                                               Diagnostics& diags);

// The probekit type of a C integer type name ("unsigned long", "pid_t", "__u16").
std::optional<plan::FieldType> c_scalar_type(const std::string& c_type);

// The parameter named `name`, or -1.
int signature_param_index(const plan::Signature& sig, const std::string& name);

}  // namespace probe
