// Compiler and kernel errors about generated code are reported against the policy element
// that produced it, with the lines that matter, never as a raw dump.
#include <gtest/gtest.h>

#include "compiler/codegen/codegen.h"
#include "runtime/loader/load_errors.h"

namespace probe {
namespace {

TEST(ErrorMapping, ClangErrorsPointAtTheProbe) {
  GeneratedProgram g;
  g.source = "line1\nline2\n  *(__u64 *)(e + 40) = PT_REGS_PARM9(ctx);\nline4\n";
  auto file = std::make_shared<SourceFile>("p.toml", "[probe.w]\nuprobe = \"f\"\n");
  SourceRange r{file, 1, 8, 1, 9};
  g.spans.push_back({2, 4, "w", r});
  std::string out = explain_compile_errors(
      g, "/pk/prog.bpf.c:3:25: error: call to undeclared function 'PT_REGS_PARM9'\n"
         "  *(__u64 *)(e + 40) = PT_REGS_PARM9(ctx);\n");
  EXPECT_EQ(out,
            "p.toml:1:8: error: internal error: the code generated for probe 'w' does not compile: "
            "call to undeclared function 'PT_REGS_PARM9'\n"
            "[probe.w]\n"
            "       ^\n"
            "hint: generated line 3: *(__u64 *)(e + 40) = PT_REGS_PARM9(ctx); (see `probec emit-c`); "
            "please report this\n");
}

// A libbpf log as 1.1 prints it when the verifier rejects a program.
constexpr char kVerifierLog[] =
    "libbpf: prog 'pk_p1_return': BPF program load failed: Permission denied\n"
    "libbpf: prog 'pk_p1_return': -- BEGIN PROG LOAD LOG --\n"
    "0: R1=ctx() R10=fp0\n"
    "1: (bf) r6 = r1\n"
    "79: (4f) r2 |= r1\n"
    "R2 bitwise operator |= on pointer prohibited\n"
    "processed 77 insns (limit 1000000) max_states_per_insn 0 total_states 7\n"
    "-- END PROG LOAD LOG --\n"
    "libbpf: prog 'pk_p1_return': failed to load: -13\n"
    "libbpf: failed to load object 'pk_x'\n";

Manifest two_probes() {
  Manifest m;
  ProbeManifest a;
  a.id = 0;
  a.name = "first";
  a.entry_program = "pk_p0_entry";
  ProbeManifest b;
  b.id = 1;
  b.name = "second";
  b.kind = plan::ProbeKind::kUretprobe;
  b.symbol = "SSL_read";
  b.entry_program = "pk_p1_entry";
  b.return_program = "pk_p1_return";
  b.location = "policy.toml:12:8";
  m.probes = {a, b};
  return m;
}

TEST(ErrorMapping, VerifierRejectionNamesTheProbeAndKeepsTheLastLines) {
  auto f = parse_load_log(kVerifierLog);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->program, "pk_p1_return");
  EXPECT_EQ(f->reason, "Permission denied");
  Manifest m = two_probes();
  EXPECT_EQ(probe_of_program(m, "pk_p1_return")->name, "second");
  EXPECT_EQ(describe_load_failure(m, *f),
            "policy.toml:12:8: probe 'second': the kernel refused its uretprobe program pk_p1_return "
            "(SSL_read): Permission denied\n"
            "verifier:\n"
            "  | 0: R1=ctx() R10=fp0\n"
            "  | 1: (bf) r6 = r1\n"
            "  | 79: (4f) r2 |= r1\n"
            "  | R2 bitwise operator |= on pointer prohibited\n"
            "  | processed 77 insns (limit 1000000) max_states_per_insn 0 total_states 7");
}

TEST(ErrorMapping, CoreRelocationFailuresAreShownInsteadOfTheVerifierLog) {
  std::string log =
      "libbpf: prog 'pk_p0_entry': relo #2: kind <byte_off> (0), spec is [3] struct task_struct.tgid\n"
      "libbpf: prog 'pk_p0_entry': relo #2: failed to resolve CO-RE relocation: no candidates\n"
      "libbpf: prog 'pk_p0_entry': BPF program load failed: Invalid argument\n";
  auto f = parse_load_log(log);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->program, "pk_p0_entry");
  EXPECT_NE(f->verifier_tail.find("failed to resolve CO-RE relocation"), std::string::npos);
  EXPECT_EQ(describe_load_failure(two_probes(), *f).find("policy: probe 'first'"), 0u);
}

TEST(ErrorMapping, LogsWithoutAFailingProgramAreNotGuessed) {
  EXPECT_FALSE(parse_load_log("libbpf: map 'pk_events': failed to create: Operation not permitted\n"));
}

}  // namespace
}  // namespace probe
