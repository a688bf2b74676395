/* The errno values libbpf's usdt.bpf.h uses (it includes <linux/errno.h>); BPF programs
 * cannot include the kernel's uapi headers without the host's asm/ headers. */
#ifndef PK_LINUX_ERRNO_H
#define PK_LINUX_ERRNO_H
#define ENOENT 2
#define ESRCH 3
#define E2BIG 7
#define EFAULT 14
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#endif
