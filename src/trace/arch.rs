//! Where a system call's number, arguments and result sit in the
//! registers (syscall(2), "Architecture calling conventions"). x86_64 only
//! for now: another architecture needs its table and its registers here.

use nix::sys::ptrace;
use nix::unistd::Pid;

use super::decode::Call;

/// The `cs` of a 32-bit (ia32) process: its calls are numbered differently.
const CS_IA32: u64 = 0x23;

/// The call a tracee in a syscall-exit stop has just made, from
/// `PTRACE_GETREGSET(NT_PRSTATUS)`. On x86_64 the kernel keeps the
/// argument registers and puts the number in `orig_rax`, the result in
/// `rax`. An ia32 call is given a number past the table, so it reads as
/// `syscall_N` rather than as a wrong name.
pub fn exit_call(pid: Pid) -> nix::Result<Call> {
    let r = ptrace::getregset::<ptrace::regset::NT_PRSTATUS>(pid)?;
    let nr = if r.cs == CS_IA32 {
        r.orig_rax | 0x4000_0000_0000
    } else {
        r.orig_rax
    };
    Ok(Call {
        nr,
        args: [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9],
        ret: r.rax as i64,
    })
}
