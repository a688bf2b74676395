#include <gtest/gtest.h>

#include "runtime/loader/kernel_check.h"

namespace probe {
namespace {

TEST(KernelCheck, ParsesReleases) {
  auto v = parse_kernel_release("6.1.0-18-amd64");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 6);
  EXPECT_EQ(v->minor, 1);
  EXPECT_TRUE(at_least(*v, 5, 8));
  EXPECT_FALSE(at_least(*parse_kernel_release("5.7.19"), 5, 8));
  EXPECT_TRUE(at_least(*parse_kernel_release("5.8"), 5, 8));
  EXPECT_FALSE(parse_kernel_release("linux"));
}

TEST(KernelCheck, OldKernelGetsOneClearLine) {
  KernelCheckOptions o;
  o.release = "5.4.0-150-generic";
  auto st = check_kernel_support(o);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message,
            "kernel 5.4.0-150-generic is too old: probekit needs Linux 5.8 or later (BPF ring "
            "buffer, CO-RE)");
}

TEST(KernelCheck, MissingBtfGetsOneClearLine) {
  KernelCheckOptions o;
  o.release = "6.1.0";
  o.btf_path = "/nonexistent/vmlinux";
  auto st = check_kernel_support(o);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find("kernel BTF not found at /nonexistent/vmlinux"), 0u);
  EXPECT_EQ(st.error().message.find('\n'), std::string::npos);
}

TEST(KernelCheck, PolicyMinimumRaisesTheBar) {
  KernelCheckOptions o;
  o.release = "6.1.0";
  o.min_version = "6.6";
  EXPECT_FALSE(check_kernel_support(o));
}

}  // namespace
}  // namespace probe
