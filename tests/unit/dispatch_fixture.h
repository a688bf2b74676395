// Synthetic OpenSSL-like read paths for the dispatched-return analysis
// (common/dispatched_return.h), in assembly so that every byte is known:
//   wrapper (SSL_read's shape) -> internal function -> jmp *[method + D]
//   -> implementation F (`mov r8, rcx; xor ecx, ecx; jmp G`, ssl3_read's shape)
//   -> body G: arguments into callee-saved registers, a detour that rejoins, an indirect
//      call, `test eax, eax; je` (the site).
// A peek implementation enters G with `mov ecx, 1` (the guarded route). Method tables are
// exported accessors `lea rax, [rip+T]; ret` over tables in .data.rel.ro, so the slot pointers
// are R_X86_64_RELATIVE relocations, as in libssl. Variants break one rule each:
// pk_un (a route into G that does not set the guard), pk_in (a jump into the path), and
// pk_odd_method (a table whose slot holds another implementation).
#pragma once

#include <string>
#include <utility>

#include "tests/unit/placement_harness.h"

namespace probe::test {

inline constexpr char kDispatchAsm[] = R"(
  # A method table whose read and peek slots hold `path`'s implementations, and its exported
  # accessor `lea rax, [rip+T]; ret` (TLS_method's shape).
  .macro PK_TABLE accessor, table, path
  .section .data.rel.ro,"aw"
  .p2align 3
\table:
  .quad 0, 0, \path\()_impl, \path\()_peek_impl
  .text
  .p2align 4
  .globl \accessor
  .type \accessor, @function
\accessor:
  lea \table(%rip), %rax
  ret
  .size \accessor, .-\accessor
  .endm

  .macro PK_READ_PATH name
  .text
  .p2align 4
  .type \name\()_internal, @function   # ssl_read_internal: dispatch through the method
\name\()_internal:
  mov 8(%rdi), %rax
  jmp *0x10(%rax)
  .size \name\()_internal, .-\name\()_internal

  PK_SSL_WRAPPER \name, \name\()_internal          # SSL_read's shape
  PK_SSL_WRAPPER_EX \name\()_ex, \name\()_internal  # SSL_read_ex's shape

  .p2align 4
  .type \name\()_impl, @function       # ssl3_read: peek = 0, the count pointer moves to r8
\name\()_impl:
  mov %rcx, %r8
  xor %ecx, %ecx
  jmp \name\()_body
  .size \name\()_impl, .-\name\()_impl

  .p2align 4
  .type \name\()_peek_impl, @function  # ssl3_peek: the same body with peek = 1
\name\()_peek_impl:
  mov %rcx, %r8
  mov $1, %ecx
  jmp \name\()_body
  .size \name\()_peek_impl, .-\name\()_peek_impl

  .p2align 4
  .type \name\()_body, @function       # ssl3_read_internal
\name\()_body:
  push %r14
  push %r13
  push %rbp
  push %rbx
  sub $8, %rsp
  mov %r8, %r14
  mov %ecx, %r13d
  mov %rsi, %rbp
  mov %rdi, %rbx
  test %rdx, %rdx
  je 3f
\name\()_mid:
  mov 8(%rbx), %rax
  mov %rbx, %rdi
  call *0x20(%rax)
  test %eax, %eax
  je 4f
  mov $1, %eax
4:
  add $8, %rsp
  pop %rbx
  pop %rbp
  pop %r13
  pop %r14
  ret
3:
  call \name\()_internal                 # some call that keeps callee-saved registers
  jmp \name\()_mid
  .size \name\()_body, .-\name\()_body

  PK_TABLE \name\()_method, \name\()_table, \name
  .endm

  PK_READ_PATH pk_rd
  PK_READ_PATH pk_un
  PK_READ_PATH pk_in

  # A second table for pk_rd, reached through a deprecated accessor's jump.
  PK_TABLE pk_rd_client_method_internal, pk_rd_client_table, pk_rd
  .hidden pk_rd_client_method_internal  # bound locally: the jump below is direct, not via the PLT
  .p2align 4
  .globl pk_rd_client_method
  .type pk_rd_client_method, @function
pk_rd_client_method:
  jmp pk_rd_client_method_internal
  .size pk_rd_client_method, .-pk_rd_client_method

  # A table whose read slot holds pk_un's implementation.
  PK_TABLE pk_odd_method, pk_odd_table, pk_un

  .p2align 4
  .globl pk_un_sneak
  .type pk_un_sneak, @function         # enters pk_un's body without setting the guard
pk_un_sneak:
  mov %rcx, %r8
  jmp pk_un_body
  .size pk_un_sneak, .-pk_un_sneak

  .p2align 4
  .globl pk_in_sneak
  .type pk_in_sneak, @function         # jumps into pk_in's path to the site
pk_in_sneak:
  jmp pk_in_mid
  .size pk_in_sneak, .-pk_in_sneak
  .section .note.GNU-stack,"",@progbits
)";

// Builds the paths into a shared object in `dir`; returns (path, error text).
inline std::pair<std::string, std::string> build_dispatch_library(const TempDir& dir) {
  return build_asm_library(dir, "pkdispatch", std::string(kSslWrapperMacros) + kDispatchAsm);
}

}  // namespace probe::test
