// Synthetic functions for the placement tests, in assembly so that every byte is known:
// prologues the kernel emulates or single-steps, OpenSSL's wrapper shape (SSL_write /
// SSL_write_ex forwarding to one internal function), and the cases the analysis must refuse
// (a loop back into the prologue, a jump into it from another function, a jump table, a store
// through an argument, a branch the kernel single-steps, an ambiguous 0x66 call). Built at test
// time with cc.
#pragma once

#include <string>
#include <utility>

#include "tests/unit/placement_harness.h"

namespace probe::test {

inline constexpr char kPlacementAsm[] = R"(
  .text
  .p2align 4
  .type pk_inner, @function            # internal, like OpenSSL's ssl_write_internal
pk_inner:
  push %r13
  push %r12
  movq %rdx, (%rcx)                    # the count, through the out-parameter
  mov $1, %eax
  pop %r12
  pop %r13
  ret
  .size pk_inner, .-pk_inner

  PK_SSL_WRAPPER pk_write, pk_inner          # SSL_write's shape
  PK_SSL_WRAPPER_EX pk_write_ex, pk_inner    # SSL_write_ex's shape: no Jcc after the call

  PK_SSL_WRAPPER pk_lonely, pk_inner         # the same shape, without an _ex sibling

  .p2align 4
  .globl pk_push_entry
  .type pk_push_entry, @function
pk_push_entry:
  push %rbx
  mov %rdi, %rbx
  mov %rbx, %rax
  pop %rbx
  ret
  .size pk_push_entry, .-pk_push_entry

  .p2align 4
  .globl pk_cet_entry
  .type pk_cet_entry, @function
pk_cet_entry:
  endbr64
  push %rbp
  mov %rsp, %rbp
  mov %rdi, %rax
  pop %rbp
  ret
  .size pk_cet_entry, .-pk_cet_entry

  .p2align 4
  .globl pk_nop5_entry
  .type pk_nop5_entry, @function
pk_nop5_entry:
  .byte 0x0f, 0x1f, 0x44, 0x00, 0x00
  mov %rdi, %rax
  ret
  .size pk_nop5_entry, .-pk_nop5_entry

  .p2align 4
  .globl pk_clobber_rdi
  .type pk_clobber_rdi, @function
pk_clobber_rdi:
  sub $8, %rsp
  xor %edi, %edi
  add $8, %rsp
  jmp 1f
1:
  ret
  .size pk_clobber_rdi, .-pk_clobber_rdi

  .p2align 4
  .globl pk_loop_into_prefix
  .type pk_loop_into_prefix, @function
pk_loop_into_prefix:
  sub $8, %rsp
  xor %eax, %eax
1:
  add $1, %eax
  cmp $10, %eax
  jl 1b
  add $8, %rsp
  ret
  .size pk_loop_into_prefix, .-pk_loop_into_prefix

  .p2align 4
  .globl pk_victim
  .type pk_victim, @function
pk_victim:
  sub $8, %rsp
.Lvictim_body:
  mov %rdi, %rax
  push %rbx
  pop %rbx
  add $8, %rsp
  ret
  .size pk_victim, .-pk_victim

  .p2align 4
  .globl pk_intruder
  .type pk_intruder, @function          # enters pk_victim's prologue from outside
pk_intruder:
  sub $8, %rsp
  jmp .Lvictim_body
  .size pk_intruder, .-pk_intruder

  .p2align 4
  .globl pk_switch
  .type pk_switch, @function
pk_switch:
  sub $8, %rsp
  push %rbx
  pop %rbx
  lea 1f(%rip), %rax
  jmp *%rax
1:
  add $8, %rsp
  ret
  .size pk_switch, .-pk_switch

  .p2align 4
  .globl pk_store_arg
  .type pk_store_arg, @function
pk_store_arg:
  sub $8, %rsp
  mov %rsi, (%rdi)
  push %rbx
  pop %rbx
  add $8, %rsp
  ret
  .size pk_store_arg, .-pk_store_arg

  .p2align 4
  .globl pk_movsxd
  .type pk_movsxd, @function
pk_movsxd:
  movslq %edx, %rdx
  push %rbx
  pop %rbx
  mov %rdx, %rax
  ret
  .size pk_movsxd, .-pk_movsxd

  .p2align 4
  .globl pk_tail
  .type pk_tail, @function
pk_tail:
  test %edi, %edi
  jne 1f
  xor %eax, %eax
  ret
1:
  jmp pk_inner
  .size pk_tail, .-pk_tail

  .p2align 4
  .globl pk_two_rets
  .type pk_two_rets, @function
pk_two_rets:
  test %edi, %edi
  je 1f
  mov $1, %eax
  ret
1:
  xor %eax, %eax
  ret $0
  .size pk_two_rets, .-pk_two_rets

  .p2align 4
  .globl pk_odd_call
  .type pk_odd_call, @function          # 66 e8: 4 bytes on AMD, 6 on Intel
pk_odd_call:
  .byte 0x66, 0xe8, 0x00, 0x00
  ret
  .size pk_odd_call, .-pk_odd_call

  .p2align 4
  .globl pk_jrcxz_first
  .type pk_jrcxz_first, @function      # jrcxz is not a Jcc to the kernel: single-stepped
pk_jrcxz_first:
  sub $8, %rsp
  jrcxz 1f
  push %rbx
  pop %rbx
1:
  add $8, %rsp
  ret
  .size pk_jrcxz_first, .-pk_jrcxz_first

  .p2align 4
  .globl pk_no_size
  .type pk_no_size, @function           # no .size: bounds unknown
pk_no_size:
  push %rbx
  pop %rbx
  ret
  .section .note.GNU-stack,"",@progbits
)";

// The whole assembly source: the shared wrapper macros, then the functions.
inline std::string placement_asm_source() { return std::string(kSslWrapperMacros) + kPlacementAsm; }

// Builds the functions into a shared object in `dir`; returns (path, error text).
inline std::pair<std::string, std::string> build_placement_library(const TempDir& dir) {
  return build_asm_library(dir, "pk", placement_asm_source());
}

}  // namespace probe::test
