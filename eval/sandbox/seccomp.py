"""A small seccomp deny-list for the sandboxed program, compiled to classic BPF for `bwrap --seccomp FD`.

Namespaces already keep the program away from the host; this closes the kernel interfaces a contained program
would use to attack the kernel itself or to re-arrange its own view: new namespaces (unshare, setns, clone with
namespace flags), mount, ptrace and cross-process memory access, keyrings, bpf, perf, io_uring, module
loading. Hand-written rather than via libseccomp because the Python binding is not on PyPI and the program is
forty instructions. x86_64 only; on other machines no filter is installed (the namespaces still apply).
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
DENIED_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
    "add_key": 248, "request_key": 249, "keyctl": 250,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "lookup_dcookie": 212, "syslog": 103,
}
CLONE = 56
CLONE3 = 435  # its flags live behind a pointer BPF cannot follow: refuse it, and libc falls back to clone
NAMESPACE_FLAGS = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
                   | 0x00000080)  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME

RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_EPERM = 0x00050000 | errno.EPERM
RET_ENOSYS = 0x00050000 | errno.ENOSYS

LD_ABS_W, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
OFF_NR, OFF_ARCH, OFF_ARG0 = 0, 4, 16  # struct seccomp_data; arg0's low 32 bits on little-endian


def deny_filter() -> bytes | None:
    """The filter as bytes of struct sock_filter[], or None where it is not defined (not x86_64)."""
    if platform.machine() != "x86_64":
        return None
    prog: list[tuple[int, object, object, int]] = []  # (code, jt, jf, k); jt/jf are labels or offsets

    def emit(code, k, jt=0, jf=0):
        prog.append((code, jt, jf, k))

    emit(LD_ABS_W, OFF_ARCH)
    emit(JEQ, AUDIT_ARCH_X86_64, 0, "kill")
    emit(LD_ABS_W, OFF_NR)
    emit(JGE, X32_SYSCALL_BIT, "deny", 0)
    for nr in sorted(DENIED_X86_64.values()):
        emit(JEQ, nr, "deny", 0)
    emit(JEQ, CLONE3, "enosys", 0)
    emit(JEQ, CLONE, 0, "allow")
    emit(LD_ABS_W, OFF_ARG0)
    emit(JSET, NAMESPACE_FLAGS, "deny", "allow")
    labels = {}
    for name, ret in (("allow", RET_ALLOW), ("deny", RET_EPERM), ("enosys", RET_ENOSYS), ("kill", RET_KILL_PROCESS)):
        labels[name] = len(prog)
        emit(RET, ret)
    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(prog):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("<HBBI", code, jt, jf, k)
    return bytes(out)
