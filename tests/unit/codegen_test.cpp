// Generated C depends only on the policy: same input, same bytes; no host paths.
#include <gtest/gtest.h>

#include "common/files.h"
#include "compiler/codegen/codegen.h"
#include "compiler/codegen/layout.h"
#include "compiler/sema/sema.h"
#include "tests/support/env.h"
#include "tests/support/generate.h"

namespace probe {
namespace {

std::optional<GeneratedProgram> generate_from(const std::string& path) {
  return test::generate_without_host_checks(path);
}

TEST(Codegen, SamePolicySameBytes) {
  std::string path = test::source_dir() + "/tests/unit/data/openssl-plaintext.toml";
  auto a = generate_from(path);
  auto b = generate_from(path);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->source, b->source);
  EXPECT_EQ(manifest_to_json(a->manifest), manifest_to_json(b->manifest));
}

TEST(Codegen, OutputDoesNotDependOnWhereThePolicyLives) {
  test::TempDir dir;
  std::string src = test::source_dir() + "/tests/unit/data/openssl-plaintext.toml";
  std::string copy = dir.file("openssl-plaintext.toml");
  test::write_text(copy, *read_file(src));
  auto a = generate_from(src);
  auto b = generate_from(copy);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->source, b->source);
  EXPECT_EQ(a->source.find(test::source_dir()), std::string::npos);
  EXPECT_EQ(a->source.find("/tmp"), std::string::npos);
}

TEST(Codegen, PairsEntryAndReturnForReturnProbes) {
  auto g = generate_from(test::source_dir() + "/tests/unit/data/openssl-plaintext.toml");
  ASSERT_TRUE(g);
  const auto& probes = g->manifest.probes;
  ASSERT_EQ(probes.size(), 4u);
  EXPECT_EQ(probes[0].entry_program, "pk_p0_entry");
  EXPECT_EQ(probes[0].return_program, "");
  EXPECT_EQ(probes[2].entry_program, "pk_p2_entry");
  EXPECT_EQ(probes[2].return_program, "pk_p2_return");
  // ssl_read_ex saves its out-pointer (arg3) at entry and reads it at return.
  EXPECT_NE(g->source.find("st.a[3] = PT_REGS_PARM4(ctx);"), std::string::npos);
  EXPECT_NE(g->source.find("bpf_probe_read_user(&pk_d3"), std::string::npos);
  // The return value comes through pk_ret (a placed return site's recipe) and is narrowed
  // to 32 bits before any comparison.
  EXPECT_NE(g->source.find("__s64 pk_rv = pk_ret(ctx, st.aux);"), std::string::npos);
  EXPECT_NE(g->source.find("(__s32)pk_rv"), std::string::npos);
  EXPECT_TRUE(probes[2].placed_return);
  // What a moved probe must find intact: ssl, buf, and the int length as its low 32 bits.
  EXPECT_EQ(probes[0].entry_reads, (std::vector<std::string>{"rdi", "rsi", "edx"}));
  EXPECT_EQ(probes[2].entry_reads, (std::vector<std::string>{"rdi", "rsi"}));
}

TEST(Codegen, ProbesThatReadRegistersByNameStayWhereTheyAreWritten) {
  test::TempDir dir;
  std::string policy = dir.file("p.toml");
  test::write_text(policy, R"([policy]
name = "regs"
[target.lib]
library = "libssl.so.3"
[probe.a]
target = "lib"
uretprobe = "SSL_read"
capture = [{ name = "sp", value = "reg.sp" }, { name = "rc", value = "ret" }]
[probe.b]
target = "lib"
uretprobe = "SSL_read"
capture = [{ name = "rc", value = "ret" }]
[probe.c]
target = "lib"
uretprobe = "SSL_read"
placement = "off"
capture = [{ name = "rc", value = "ret" }]
)");
  auto g = generate_from(policy);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->manifest.probes[0].placement, plan::Placement::kOff);
  EXPECT_FALSE(g->manifest.probes[0].placed_return);
  EXPECT_EQ(g->manifest.probes[1].placement, plan::Placement::kAuto);
  EXPECT_TRUE(g->manifest.probes[1].placed_return);
  EXPECT_EQ(g->manifest.probes[2].placement, plan::Placement::kOff);
  EXPECT_FALSE(g->manifest.probes[2].placed_return);
}

TEST(Codegen, LayoutPutsFixedFieldsFirstAlignedAndVariableFieldsInOrder) {
  plan::Probe p;
  auto cap = [](std::string name, plan::FieldType t) {
    plan::Capture c;
    c.name = std::move(name);
    c.type = t;
    c.max = 100;
    return c;
  };
  p.captures = {cap("a", plan::FieldType::kU8), cap("buf", plan::FieldType::kBytes),
                cap("b", plan::FieldType::kU64), cap("s", plan::FieldType::kString),
                cap("c", plan::FieldType::kI32)};
  ProbeLayout l = layout_probe(p);
  ASSERT_EQ(l.fields.size(), 5u);
  EXPECT_EQ(l.fields[0].name, "a");
  EXPECT_EQ(l.fields[2].offset, kEventHeaderSize);      // u64 first, at the header's end
  EXPECT_EQ(l.fields[4].offset, kEventHeaderSize + 8);  // then i32
  EXPECT_EQ(l.fields[0].offset, kEventHeaderSize + 12);  // then u8
  EXPECT_EQ(l.fixed_size, kEventHeaderSize + 16);
  EXPECT_EQ(l.fields[1].var_index, 0);
  EXPECT_EQ(l.fields[3].var_index, 1);
  EXPECT_EQ(l.max_size, kEventHeaderSize + 16 + (8 + 104) + (8 + 104));
  EXPECT_EQ(event_max_for({l}), 512u);  // 272 bytes round up to the next power of two
}

}  // namespace
}  // namespace probe
