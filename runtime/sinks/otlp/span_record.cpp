#include "runtime/sinks/otlp/span_record.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "runtime/sinks/utf8.h"

namespace probe::otlp {
namespace {

using json = nlohmann::json;

constexpr uint64_t kFutureSlackNs = 3600ull * 1'000'000'000;  // a start this far ahead is wrong

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

std::string clean(const std::string& s) {
  std::string v = valid_utf8(s) ? s : sanitize_utf8(s);
  v.resize(utf8_prefix(v, kMaxStringBytes));
  return v;
}

// Builds the attribute list: a repeated key replaces the earlier value (keys are unique in OTLP).
class AttributeSet {
 public:
  void set(const std::string& key, Value v) {
    for (auto& a : attrs_)
      if (a.key == key) {
        a.value = std::move(v);
        return;
      }
    if (attrs_.size() >= kMaxAttributes) {
      ++dropped_;
      return;
    }
    attrs_.push_back({key, std::move(v)});
  }
  bool has(const std::string& key) const {
    return std::any_of(attrs_.begin(), attrs_.end(), [&](const Attribute& a) { return a.key == key; });
  }
  Attributes take() { return std::move(attrs_); }
  uint32_t dropped() const { return dropped_; }

 private:
  Attributes attrs_;
  uint32_t dropped_ = 0;
};

Result<Scalar> scalar(const std::string& key, const json& v) {
  if (v.is_string()) return Scalar(clean(v.get<std::string>()));
  if (v.is_boolean()) return Scalar(v.get<bool>());
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return Scalar(static_cast<double>(u));
    return Scalar(static_cast<int64_t>(u));
  }
  if (v.is_number_integer()) return Scalar(v.get<int64_t>());
  if (v.is_number_float()) return Scalar(v.get<double>());
  return make_error("attribute '{}' must be a string, number or boolean, or a list of them", key);
}

Result<Value> attribute_value(const std::string& key, const json& v) {
  if (!v.is_array()) {
    PROBE_ASSIGN_OR_RETURN(Scalar s, scalar(key, v));
    return std::visit([](auto&& x) -> Value { return x; }, s);
  }
  std::vector<Scalar> items;
  for (const auto& item : v) {
    if (item.is_array() || item.is_object())
      return make_error("attribute '{}' is a list of lists or tables; only flat lists are allowed", key);
    PROBE_ASSIGN_OR_RETURN(Scalar s, scalar(key, item));
    if (!items.empty() && items.front().index() != s.index())
      return make_error("attribute '{}' mixes types in one list", key);
    items.push_back(std::move(s));
  }
  return Value(std::move(items));
}

std::optional<std::string> text(const json& v) {
  if (v.is_string()) return clean(v.get<std::string>());
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

std::optional<int64_t> integer(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  if (v.is_string() && !v.get<std::string>().empty() &&
      v.get<std::string>().find_first_not_of("0123456789") == std::string::npos &&
      v.get<std::string>().size() <= 18)
    return std::stoll(v.get<std::string>());
  return std::nullopt;
}

Result<uint64_t> nanoseconds(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  if (v.is_number_float() && v.get<double>() >= 0) return static_cast<uint64_t>(v.get<double>());
  return make_error("'{}' must be a non-negative number of nanoseconds", what);
}

template <size_t N>
Result<std::array<uint8_t, N>> hex_id(const json& v, const std::string& what) {
  std::string s = v.is_string() ? v.get<std::string>() : "";
  std::array<uint8_t, N> id{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  bool ok = s.size() == 2 * N;
  for (size_t i = 0; ok && i < N; ++i) {
    int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    id[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  if (!ok || std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; }))
    return make_error("'{}' must be {} hex digits, not all zero", what, 2 * N);
  return id;
}

// One sub-table (http, db, messaging): each known key maps to a semantic-convention attribute.
struct FieldMap {
  const char* key;
  const char* attribute;
  bool numeric;
};

Status map_fields(const json& table, const char* table_name, const std::vector<FieldMap>& fields,
                  AttributeSet& attrs) {
  if (!table.is_object()) return make_error("'{}' must be a table", table_name);
  for (const auto& [k, v] : table.items()) {
    auto f = std::find_if(fields.begin(), fields.end(), [&](const FieldMap& m) { return k == m.key; });
    if (f == fields.end()) {
      std::string known;
      for (const auto& m : fields) known += (known.empty() ? "" : ", ") + std::string(m.key);
      return make_error("unknown key '{}.{}' (known: {})", table_name, k, known);
    }
    if (f->numeric) {
      auto n = integer(v);
      if (!n) return make_error("'{}.{}' must be an integer", table_name, k);
      attrs.set(f->attribute, *n);
    } else {
      auto s = text(v);
      if (!s) return make_error("'{}.{}' must be a string", table_name, k);
      attrs.set(f->attribute, std::move(*s));
    }
  }
  return {};
}

const std::vector<FieldMap>& http_fields() {
  static const std::vector<FieldMap> f = {
      {"method", "http.request.method", false},   {"url", "url.full", false},
      {"scheme", "url.scheme", false},            {"host", "server.address", false},
      {"port", "server.port", true},              {"path", "url.path", false},
      {"query", "url.query", false},              {"route", "http.route", false},
      {"status", "http.response.status_code", true}, {"protocol", "network.protocol.version", false},
      {"user_agent", "user_agent.original", false},
  };
  return f;
}

const std::vector<FieldMap>& db_fields() {
  static const std::vector<FieldMap> f = {
      {"system", "db.system.name", false},       {"namespace", "db.namespace", false},
      {"operation", "db.operation.name", false}, {"collection", "db.collection.name", false},
      {"query", "db.query.text", false},         {"statement", "db.query.text", false},
      {"status_code", "db.response.status_code", false}, {"host", "server.address", false},
      {"port", "server.port", true},
  };
  return f;
}

const std::vector<FieldMap>& messaging_fields() {
  static const std::vector<FieldMap> f = {
      {"system", "messaging.system", false},
      {"destination", "messaging.destination.name", false},
      {"operation", "messaging.operation.name", false},
      {"operation_type", "messaging.operation.type", false},
      {"message_id", "messaging.message.id", false},
      {"body_size", "messaging.message.body.size", true},
      {"batch_size", "messaging.batch.message_count", true},
  };
  return f;
}

std::string string_of(const json& table, const char* key) {
  auto it = table.find(key);
  return it != table.end() && it->is_string() ? clean(it->get<std::string>()) : std::string();
}

// "host:port" in http.host: server.address is the name alone, server.port the number.
void split_host_port(AttributeSet& attrs, const json& http) {
  std::string host = string_of(http, "host");
  std::string name = host, port;
  size_t close = host.find(']');
  if (!host.empty() && host[0] == '[' && close != std::string::npos) {
    name = host.substr(1, close - 1);
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
  } else if (size_t colon = host.find(':'); colon != std::string::npos && colon == host.rfind(':')) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
  }
  if (name != host) attrs.set("server.address", name);
  if (!port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
      !http.contains("port"))
    attrs.set("server.port", static_cast<int64_t>(std::stoi(port)));
}

const std::map<std::string, SpanKind>& kinds() {
  static const std::map<std::string, SpanKind> k = {{"internal", SpanKind::kInternal},
                                                    {"server", SpanKind::kServer},
                                                    {"client", SpanKind::kClient},
                                                    {"producer", SpanKind::kProducer},
                                                    {"consumer", SpanKind::kConsumer}};
  return k;
}

Result<StatusCode> status_code(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : "";
  if (s == "unset") return StatusCode::kUnset;
  if (s == "ok") return StatusCode::kOk;
  if (s == "error") return StatusCode::kError;
  return make_error("status must be \"unset\", \"ok\" or \"error\" (or a table with code and message)");
}

const char* const kKeys[] = {"name",   "kind", "start_ns",  "end_ns",     "duration_ns", "duration_ms",
                             "status", "http", "db",        "messaging",  "attributes",  "trace_id",
                             "span_id", "parent_span_id"};

}  // namespace

SpanClock SpanClock::now() {
  SpanClock c;
  c.monotonic_now_ns = clock_ns(CLOCK_MONOTONIC);
  c.unix_minus_monotonic_ns = static_cast<int64_t>(clock_ns(CLOCK_REALTIME) - c.monotonic_now_ns);
  return c;
}

IdGenerator::IdGenerator() : rng_(std::random_device{}()) {}

TraceId IdGenerator::trace_id() {
  TraceId id{};
  do {
    uint64_t a = rng_(), b = rng_();
    std::memcpy(id.data(), &a, 8);
    std::memcpy(id.data() + 8, &b, 8);
  } while (std::all_of(id.begin(), id.end(), [](uint8_t x) { return x == 0; }));
  return id;
}

SpanId IdGenerator::span_id() {
  SpanId id{};
  do {
    uint64_t a = rng_();
    std::memcpy(id.data(), &a, 8);
  } while (std::all_of(id.begin(), id.end(), [](uint8_t x) { return x == 0; }));
  return id;
}

Result<Span> span_from_record(const json& record, const SpanClock& clock, IdGenerator& ids) {
  if (!record.is_object()) return make_error("a span record must be a table");
  for (const auto& [k, v] : record.items())
    if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys))
      return make_error("unknown key '{}' (a span has name, kind, start_ns, end_ns, duration_ns, "
                        "duration_ms, status, http, db, messaging, attributes, trace_id, span_id, "
                        "parent_span_id)", k);
  Span span;
  AttributeSet attrs;
  const json* http = record.contains("http") ? &record["http"] : nullptr;
  const json* db = record.contains("db") ? &record["db"] : nullptr;
  const json* msg = record.contains("messaging") ? &record["messaging"] : nullptr;
  if (http) {
    PROBE_TRY(map_fields(*http, "http", http_fields(), attrs));
    split_host_port(attrs, *http);
    std::string path = string_of(*http, "path");
    if (auto q = path.find('?'); q != std::string::npos) {
      attrs.set("url.path", path.substr(0, q));
      if (!http->contains("query")) attrs.set("url.query", path.substr(q + 1));
    }
  }
  if (db) PROBE_TRY(map_fields(*db, "db", db_fields(), attrs));
  if (msg) PROBE_TRY(map_fields(*msg, "messaging", messaging_fields(), attrs));
  if (auto it = record.find("attributes"); it != record.end()) {
    if (!it->is_object()) return make_error("'attributes' must be a table of name = value");
    for (const auto& [k, v] : it->items()) {
      if (k.empty()) return make_error("an attribute name is empty");
      PROBE_ASSIGN_OR_RETURN(Value value, attribute_value(k, v));
      attrs.set(clean(k), std::move(value));
    }
  }

  // Name: given, or what the semantic conventions derive from the operation.
  if (auto it = record.find("name"); it != record.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) return make_error("'name' must be a non-empty string");
    span.name = clean(it->get<std::string>());
  } else if (http && !string_of(*http, "method").empty()) {
    span.name = string_of(*http, "method");
    if (!string_of(*http, "route").empty()) span.name += " " + string_of(*http, "route");
  } else if (db && (!string_of(*db, "operation").empty() || !string_of(*db, "system").empty())) {
    std::string op = string_of(*db, "operation"), target = string_of(*db, "collection");
    if (target.empty()) target = string_of(*db, "namespace");
    span.name = op.empty() ? string_of(*db, "system") : target.empty() ? op : op + " " + target;
  } else if (msg && !string_of(*msg, "operation").empty()) {
    span.name = string_of(*msg, "operation");
    if (!string_of(*msg, "destination").empty()) span.name += " " + string_of(*msg, "destination");
  } else {
    return make_error("'name' is missing (it may be left out only with http.method, db.operation "
                      "or messaging.operation)");
  }

  // Kind: given, or client for HTTP and database calls, producer/consumer for messaging.
  if (auto it = record.find("kind"); it != record.end()) {
    auto k = it->is_string() ? kinds().find(it->get<std::string>()) : kinds().end();
    if (k == kinds().end())
      return make_error("'kind' must be internal, server, client, producer or consumer");
    span.kind = k->second;
  } else if (http || db) {
    span.kind = SpanKind::kClient;
  } else if (msg) {
    std::string type = string_of(*msg, "operation_type");
    span.kind = type == "send" || type == "create" ? SpanKind::kProducer
                : type == "receive" || type == "process" ? SpanKind::kConsumer
                                                         : SpanKind::kInternal;
  }

  // Times: CLOCK_MONOTONIC nanoseconds (ev.ts); end defaults to now, start to end - duration.
  std::optional<uint64_t> start, end, duration;
  if (auto it = record.find("start_ns"); it != record.end()) {
    PROBE_ASSIGN_OR_RETURN(start, nanoseconds(*it, "start_ns"));
  }
  if (auto it = record.find("end_ns"); it != record.end()) {
    PROBE_ASSIGN_OR_RETURN(end, nanoseconds(*it, "end_ns"));
  }
  if (auto it = record.find("duration_ns"); it != record.end()) {
    PROBE_ASSIGN_OR_RETURN(duration, nanoseconds(*it, "duration_ns"));
  } else if (auto ms = record.find("duration_ms"); ms != record.end()) {
    if (!ms->is_number() || ms->get<double>() < 0) return make_error("'duration_ms' must be a non-negative number");
    duration = static_cast<uint64_t>(ms->get<double>() * 1e6);
  }
  if (!start && !duration) return make_error("'start_ns' is missing (or give duration_ns/duration_ms)");
  if (!end) end = start && duration ? *start + *duration : clock.monotonic_now_ns;
  if (!start) start = *end >= *duration ? *end - *duration : 0;
  if (*start > clock.monotonic_now_ns + kFutureSlackNs)
    return make_error("'start_ns' is in the future: times are CLOCK_MONOTONIC nanoseconds, as ev.ts");
  if (*end < *start) return make_error("'end_ns' is before 'start_ns'");
  span.start_unix_ns = *start + static_cast<uint64_t>(clock.unix_minus_monotonic_ns);
  span.end_unix_ns = *end + static_cast<uint64_t>(clock.unix_minus_monotonic_ns);

  // Status: given, or an error for HTTP statuses the conventions call failures.
  if (auto it = record.find("status"); it != record.end()) {
    if (it->is_object()) {
      for (const auto& [k, v] : it->items())
        if (k != "code" && k != "message") return make_error("unknown key 'status.{}' (known: code, message)", k);
      PROBE_ASSIGN_OR_RETURN(span.status, status_code(it->value("code", json("unset"))));
      if (auto m = it->find("message"); m != it->end()) {
        auto message = text(*m);
        if (!message) return make_error("'status.message' must be a string");
        span.status_message = std::move(*message);
      }
    } else {
      PROBE_ASSIGN_OR_RETURN(span.status, status_code(*it));
    }
  } else if (http && http->contains("status")) {
    int64_t code = integer((*http)["status"]).value_or(0);  // checked by map_fields
    if (code >= 500 || (code >= 400 && span.kind != SpanKind::kServer)) {
      span.status = StatusCode::kError;
      if (!attrs.has("error.type")) attrs.set("error.type", std::to_string(code));
    }
  }

  // Ids: given (to join a trace the handler knows), else new.
  if (auto it = record.find("trace_id"); it != record.end()) {
    PROBE_ASSIGN_OR_RETURN(span.trace_id, hex_id<16>(*it, "trace_id"));
  } else {
    span.trace_id = ids.trace_id();
  }
  if (auto it = record.find("span_id"); it != record.end()) {
    PROBE_ASSIGN_OR_RETURN(span.span_id, hex_id<8>(*it, "span_id"));
  } else {
    span.span_id = ids.span_id();
  }
  if (auto it = record.find("parent_span_id"); it != record.end()) {
    PROBE_ASSIGN_OR_RETURN(SpanId parent, hex_id<8>(*it, "parent_span_id"));
    span.parent_span_id = parent;
  }
  span.dropped_attributes = attrs.dropped();
  span.attributes = attrs.take();
  return span;
}

}  // namespace probe::otlp
