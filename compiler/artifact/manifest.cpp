#include "compiler/artifact/manifest.h"

#include <nlohmann/json.hpp>

namespace probe {

using nlohmann::json;

const FieldLayout* ProbeManifest::field(const std::string& n) const {
  for (const auto& f : fields)
    if (f.name == n) return &f;
  return nullptr;
}

const ProbeManifest* Manifest::probe(uint32_t id) const {
  return id < probes.size() && probes[id].id == id ? &probes[id] : nullptr;
}

const ProbeManifest* Manifest::find_probe(const std::string& name) const {
  for (const auto& p : probes)
    if (p.name == name) return &p;
  return nullptr;
}

const TargetManifest* Manifest::target(const std::string& n) const {
  for (const auto& t : targets)
    if (t.name == n) return &t;
  return nullptr;
}

namespace {

json selector_to_json(const plan::ProcessSelector& s) {
  return json{{"comm", s.comm},     {"exe", s.exe},       {"cmdline", s.cmdline},
              {"pid", s.pid},       {"cgroup", s.cgroup}, {"container", s.container}};
}

plan::ProcessSelector selector_from_json(const json& j) {
  plan::ProcessSelector s;
  s.comm = j.at("comm").get<std::vector<std::string>>();
  s.exe = j.at("exe").get<std::vector<std::string>>();
  s.cmdline = j.at("cmdline").get<std::string>();
  s.pid = j.at("pid").get<std::vector<int64_t>>();
  s.cgroup = j.at("cgroup").get<std::vector<std::string>>();
  s.container = j.at("container").get<std::string>();
  return s;
}

template <typename Enum, typename Parse>
Enum parse_enum(const json& j, Parse parse, const char* what) {
  auto v = parse(j.get<std::string>());
  if (!v) throw std::runtime_error(std::string("bad ") + what + " '" + j.get<std::string>() + "'");
  return *v;
}

std::optional<plan::ReturnMode> parse_return_mode(const std::string& s) {
  for (auto m : {plan::ReturnMode::kAuto, plan::ReturnMode::kUretprobe, plan::ReturnMode::kRetSites})
    if (s == plan::return_mode_name(m)) return m;
  return std::nullopt;
}

std::optional<plan::Target::Kind> parse_target_kind(const std::string& s) {
  for (auto k : {plan::Target::Kind::kLibrary, plan::Target::Kind::kBinary, plan::Target::Kind::kProcess})
    if (s == plan::target_kind_name(k)) return k;
  return std::nullopt;
}

}  // namespace

std::string manifest_to_json(const Manifest& m) {
  json j;
  j["format"] = Manifest::kFormat;
  j["policy"] = {{"name", m.policy_name},
                 {"description", m.policy_description},
                 {"path", m.policy_path},
                 {"min_kernel", m.min_kernel}};
  j["event_max"] = m.event_max;
  j["ring_buffer_bytes"] = m.ring_buffer_bytes;
  j["probe_count"] = m.probe_count;
  j["targets"] = json::array();
  for (const auto& t : m.targets)
    j["targets"].push_back({{"name", t.name},
                            {"kind", plan::target_kind_name(t.kind)},
                            {"spec", t.spec},
                            {"optional", t.optional},
                            {"process", selector_to_json(t.process)},
                            {"pid_map", t.pid_map},
                            {"cgroup_map", t.cgroup_map}});
  j["probes"] = json::array();
  for (const auto& p : m.probes) {
    json fields = json::array();
    for (const auto& f : p.fields)
      fields.push_back({{"name", f.name},
                        {"type", plan::field_type_name(f.type)},
                        {"offset", f.offset},
                        {"size", f.size},
                        {"var", f.var_index},
                        {"max", f.max}});
    j["probes"].push_back({{"id", p.id},
                           {"name", p.name},
                           {"kind", plan::probe_kind_name(p.kind)},
                           {"target", p.target},
                           {"symbol", p.symbol},
                           {"offset", p.offset},
                           {"optional", p.optional},
                           {"return_mode", plan::return_mode_name(p.return_mode)},
                           {"placement", plan::placement_name(p.placement)},
                           {"abi", plan::abi_name(p.abi)},
                           {"entry_reads", p.entry_reads},
                           {"placed_return", p.placed_return},
                           {"return_site_args", p.return_site_args},
                           {"dispatch_tables", p.dispatch_tables},
                           {"entry_program", p.entry_program},
                           {"return_program", p.return_program},
                           {"handler", p.handler},
                           {"event", p.emit_event},
                           {"location", p.location},
                           {"fingerprint", p.fingerprint},
                           {"fixed_size", p.fixed_size},
                           {"fields", fields}});
  }
  j["metrics"] = json::array();
  for (const auto& mm : m.metrics) {
    json labels = json::array();
    for (const auto& l : mm.labels)
      labels.push_back({{"name", l.name}, {"type", plan::field_type_name(l.type)}, {"offset", l.offset},
                        {"size", l.size}});
    j["metrics"].push_back({{"name", mm.name},
                            {"help", mm.help},
                            {"kind", plan::metric_kind_name(mm.kind)},
                            {"probe", mm.probe},
                            {"map", mm.map},
                            {"key_size", mm.key_size},
                            {"overflow_offset", mm.overflow_offset},
                            {"labels", labels},
                            {"bounds", mm.bounds},
                            {"value_size", mm.value_size},
                            {"max_series", mm.max_series}});
  }
  j["watcher"] = m.watcher;
  j["handlers"] = {{"script", m.handler_script}};
  j["sinks"] = json::array();
  for (const auto& s : m.sinks) j["sinks"].push_back({{"type", s.type}, {"settings", s.settings}});
  return j.dump(1);
}

Result<Manifest> manifest_from_json(const std::string& text) {
  try {
    json j = json::parse(text);
    if (j.at("format").get<int>() != Manifest::kFormat)
      return make_error("manifest format {} is not supported (expected {})", j.at("format").get<int>(),
                        Manifest::kFormat);
    Manifest m;
    m.policy_name = j.at("policy").at("name").get<std::string>();
    m.policy_description = j.at("policy").at("description").get<std::string>();
    m.policy_path = j.at("policy").at("path").get<std::string>();
    m.min_kernel = j.at("policy").at("min_kernel").get<std::string>();
    m.event_max = j.at("event_max").get<uint32_t>();
    m.ring_buffer_bytes = j.at("ring_buffer_bytes").get<uint64_t>();
    m.probe_count = j.at("probe_count").get<uint32_t>();
    for (const auto& t : j.at("targets")) {
      TargetManifest tm;
      tm.name = t.at("name").get<std::string>();
      tm.kind = parse_enum<plan::Target::Kind>(t.at("kind"), parse_target_kind, "target kind");
      tm.spec = t.at("spec").get<std::string>();
      tm.optional = t.at("optional").get<bool>();
      tm.process = selector_from_json(t.at("process"));
      tm.pid_map = t.at("pid_map").get<std::string>();
      tm.cgroup_map = t.at("cgroup_map").get<std::string>();
      m.targets.push_back(std::move(tm));
    }
    for (const auto& p : j.at("probes")) {
      ProbeManifest pm;
      pm.id = p.at("id").get<uint32_t>();
      pm.name = p.at("name").get<std::string>();
      pm.kind = parse_enum<plan::ProbeKind>(p.at("kind"), plan::parse_probe_kind, "probe kind");
      pm.target = p.at("target").get<std::string>();
      pm.symbol = p.at("symbol").get<std::string>();
      pm.offset = p.at("offset").get<uint64_t>();
      pm.optional = p.at("optional").get<bool>();
      pm.return_mode = parse_enum<plan::ReturnMode>(p.at("return_mode"), parse_return_mode, "return mode");
      pm.placement = parse_enum<plan::Placement>(p.at("placement"), plan::parse_placement, "placement");
      pm.abi = parse_enum<plan::Abi>(p.at("abi"), plan::parse_abi, "abi");
      pm.entry_reads = p.at("entry_reads").get<std::vector<std::string>>();
      pm.placed_return = p.at("placed_return").get<bool>();
      pm.return_site_args = p.value("return_site_args", false);
      pm.dispatch_tables = p.value("dispatch_tables", std::vector<std::string>{});
      pm.entry_program = p.at("entry_program").get<std::string>();
      pm.return_program = p.at("return_program").get<std::string>();
      pm.handler = p.at("handler").get<std::string>();
      pm.emit_event = p.at("event").get<bool>();
      pm.location = p.at("location").get<std::string>();
      pm.fingerprint = p.value("fingerprint", "");
      pm.fixed_size = p.at("fixed_size").get<uint32_t>();
      for (const auto& f : p.at("fields")) {
        FieldLayout fl;
        fl.name = f.at("name").get<std::string>();
        fl.type = parse_enum<plan::FieldType>(f.at("type"), plan::parse_field_type, "field type");
        fl.offset = f.at("offset").get<uint32_t>();
        fl.size = f.at("size").get<uint32_t>();
        fl.var_index = f.at("var").get<int>();
        fl.max = f.at("max").get<uint32_t>();
        pm.fields.push_back(std::move(fl));
      }
      m.probes.push_back(std::move(pm));
    }
    for (const auto& mj : j.at("metrics")) {
      MetricManifest mm;
      mm.name = mj.at("name").get<std::string>();
      mm.help = mj.at("help").get<std::string>();
      std::string kind = mj.at("kind").get<std::string>();
      if (kind == "counter") mm.kind = plan::Metric::Kind::kCounter;
      else if (kind == "sum") mm.kind = plan::Metric::Kind::kSum;
      else if (kind == "histogram") mm.kind = plan::Metric::Kind::kHistogram;
      else throw std::runtime_error("bad metric kind '" + kind + "'");
      mm.probe = mj.at("probe").get<std::string>();
      mm.map = mj.at("map").get<std::string>();
      mm.key_size = mj.at("key_size").get<uint32_t>();
      mm.overflow_offset = mj.at("overflow_offset").get<uint32_t>();
      for (const auto& l : mj.at("labels"))
        mm.labels.push_back({l.at("name").get<std::string>(),
                             parse_enum<plan::FieldType>(l.at("type"), plan::parse_field_type, "field type"),
                             l.at("offset").get<uint32_t>(), l.at("size").get<uint32_t>()});
      mm.bounds = mj.at("bounds").get<std::vector<int64_t>>();
      mm.value_size = mj.at("value_size").get<uint32_t>();
      mm.max_series = mj.at("max_series").get<uint32_t>();
      m.metrics.push_back(std::move(mm));
    }
    m.watcher = j.at("watcher").get<bool>();
    m.handler_script = j.at("handlers").at("script").get<std::string>();
    for (const auto& s : j.at("sinks"))
      m.sinks.push_back({s.at("type").get<std::string>(),
                         s.at("settings").get<std::map<std::string, std::string>>()});
    return m;
  } catch (const std::exception& e) {
    return make_error("invalid manifest: {}", e.what());
  }
}

}  // namespace probe
