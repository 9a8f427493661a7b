//! Errno names and texts as glibc gives them (`strerrorname_np`,
//! `strerror` in the C locale), which is what strace prints: a trace should
//! read the same as the tool people know. Kept as a table rather than asked
//! of the C library so that the text never depends on how the binary was
//! linked or on a locale.

/// Errno 1..=133 (x86_64 and the generic numbering); an empty name marks
/// the numbers Linux leaves unused (41, 58).
const ERRNOS: [(&str, &str); 133] = [
    ("EPERM", "Operation not permitted"),
    ("ENOENT", "No such file or directory"),
    ("ESRCH", "No such process"),
    ("EINTR", "Interrupted system call"),
    ("EIO", "Input/output error"),
    ("ENXIO", "No such device or address"),
    ("E2BIG", "Argument list too long"),
    ("ENOEXEC", "Exec format error"),
    ("EBADF", "Bad file descriptor"),
    ("ECHILD", "No child processes"),
    ("EAGAIN", "Resource temporarily unavailable"),
    ("ENOMEM", "Cannot allocate memory"),
    ("EACCES", "Permission denied"),
    ("EFAULT", "Bad address"),
    ("ENOTBLK", "Block device required"),
    ("EBUSY", "Device or resource busy"),
    ("EEXIST", "File exists"),
    ("EXDEV", "Invalid cross-device link"),
    ("ENODEV", "No such device"),
    ("ENOTDIR", "Not a directory"),
    ("EISDIR", "Is a directory"),
    ("EINVAL", "Invalid argument"),
    ("ENFILE", "Too many open files in system"),
    ("EMFILE", "Too many open files"),
    ("ENOTTY", "Inappropriate ioctl for device"),
    ("ETXTBSY", "Text file busy"),
    ("EFBIG", "File too large"),
    ("ENOSPC", "No space left on device"),
    ("ESPIPE", "Illegal seek"),
    ("EROFS", "Read-only file system"),
    ("EMLINK", "Too many links"),
    ("EPIPE", "Broken pipe"),
    ("EDOM", "Numerical argument out of domain"),
    ("ERANGE", "Numerical result out of range"),
    ("EDEADLK", "Resource deadlock avoided"),
    ("ENAMETOOLONG", "File name too long"),
    ("ENOLCK", "No locks available"),
    ("ENOSYS", "Function not implemented"),
    ("ENOTEMPTY", "Directory not empty"),
    ("ELOOP", "Too many levels of symbolic links"),
    ("", ""),
    ("ENOMSG", "No message of desired type"),
    ("EIDRM", "Identifier removed"),
    ("ECHRNG", "Channel number out of range"),
    ("EL2NSYNC", "Level 2 not synchronized"),
    ("EL3HLT", "Level 3 halted"),
    ("EL3RST", "Level 3 reset"),
    ("ELNRNG", "Link number out of range"),
    ("EUNATCH", "Protocol driver not attached"),
    ("ENOCSI", "No CSI structure available"),
    ("EL2HLT", "Level 2 halted"),
    ("EBADE", "Invalid exchange"),
    ("EBADR", "Invalid request descriptor"),
    ("EXFULL", "Exchange full"),
    ("ENOANO", "No anode"),
    ("EBADRQC", "Invalid request code"),
    ("EBADSLT", "Invalid slot"),
    ("", ""),
    ("EBFONT", "Bad font file format"),
    ("ENOSTR", "Device not a stream"),
    ("ENODATA", "No data available"),
    ("ETIME", "Timer expired"),
    ("ENOSR", "Out of streams resources"),
    ("ENONET", "Machine is not on the network"),
    ("ENOPKG", "Package not installed"),
    ("EREMOTE", "Object is remote"),
    ("ENOLINK", "Link has been severed"),
    ("EADV", "Advertise error"),
    ("ESRMNT", "Srmount error"),
    ("ECOMM", "Communication error on send"),
    ("EPROTO", "Protocol error"),
    ("EMULTIHOP", "Multihop attempted"),
    ("EDOTDOT", "RFS specific error"),
    ("EBADMSG", "Bad message"),
    ("EOVERFLOW", "Value too large for defined data type"),
    ("ENOTUNIQ", "Name not unique on network"),
    ("EBADFD", "File descriptor in bad state"),
    ("EREMCHG", "Remote address changed"),
    ("ELIBACC", "Can not access a needed shared library"),
    ("ELIBBAD", "Accessing a corrupted shared library"),
    ("ELIBSCN", ".lib section in a.out corrupted"),
    ("ELIBMAX", "Attempting to link in too many shared libraries"),
    ("ELIBEXEC", "Cannot exec a shared library directly"),
    (
        "EILSEQ",
        "Invalid or incomplete multibyte or wide character",
    ),
    ("ERESTART", "Interrupted system call should be restarted"),
    ("ESTRPIPE", "Streams pipe error"),
    ("EUSERS", "Too many users"),
    ("ENOTSOCK", "Socket operation on non-socket"),
    ("EDESTADDRREQ", "Destination address required"),
    ("EMSGSIZE", "Message too long"),
    ("EPROTOTYPE", "Protocol wrong type for socket"),
    ("ENOPROTOOPT", "Protocol not available"),
    ("EPROTONOSUPPORT", "Protocol not supported"),
    ("ESOCKTNOSUPPORT", "Socket type not supported"),
    ("EOPNOTSUPP", "Operation not supported"),
    ("EPFNOSUPPORT", "Protocol family not supported"),
    ("EAFNOSUPPORT", "Address family not supported by protocol"),
    ("EADDRINUSE", "Address already in use"),
    ("EADDRNOTAVAIL", "Cannot assign requested address"),
    ("ENETDOWN", "Network is down"),
    ("ENETUNREACH", "Network is unreachable"),
    ("ENETRESET", "Network dropped connection on reset"),
    ("ECONNABORTED", "Software caused connection abort"),
    ("ECONNRESET", "Connection reset by peer"),
    ("ENOBUFS", "No buffer space available"),
    ("EISCONN", "Transport endpoint is already connected"),
    ("ENOTCONN", "Transport endpoint is not connected"),
    ("ESHUTDOWN", "Cannot send after transport endpoint shutdown"),
    ("ETOOMANYREFS", "Too many references: cannot splice"),
    ("ETIMEDOUT", "Connection timed out"),
    ("ECONNREFUSED", "Connection refused"),
    ("EHOSTDOWN", "Host is down"),
    ("EHOSTUNREACH", "No route to host"),
    ("EALREADY", "Operation already in progress"),
    ("EINPROGRESS", "Operation now in progress"),
    ("ESTALE", "Stale file handle"),
    ("EUCLEAN", "Structure needs cleaning"),
    ("ENOTNAM", "Not a XENIX named type file"),
    ("ENAVAIL", "No XENIX semaphores available"),
    ("EISNAM", "Is a named type file"),
    ("EREMOTEIO", "Remote I/O error"),
    ("EDQUOT", "Disk quota exceeded"),
    ("ENOMEDIUM", "No medium found"),
    ("EMEDIUMTYPE", "Wrong medium type"),
    ("ECANCELED", "Operation canceled"),
    ("ENOKEY", "Required key not available"),
    ("EKEYEXPIRED", "Key has expired"),
    ("EKEYREVOKED", "Key has been revoked"),
    ("EKEYREJECTED", "Key was rejected by service"),
    ("EOWNERDEAD", "Owner died"),
    ("ENOTRECOVERABLE", "State not recoverable"),
    ("ERFKILL", "Operation not possible due to RF-kill"),
    ("EHWPOISON", "Memory page has hardware error"),
];

/// The kernel's internal codes a tracer sees at a syscall exit when a
/// signal interrupted the call (include/linux/errno.h): never returned to
/// the program, which either restarts the call or gets EINTR.
const RESTART: [(i32, &str); 4] = [
    (512, "ERESTARTSYS"),
    (513, "ERESTARTNOINTR"),
    (514, "ERESTARTNOHAND"),
    (516, "ERESTART_RESTARTBLOCK"),
];

fn entry(errno: i32) -> Option<(&'static str, &'static str)> {
    let i = usize::try_from(errno).ok()?.checked_sub(1)?;
    ERRNOS.get(i).copied().filter(|(name, _)| !name.is_empty())
}

/// The errno's symbolic name (`EACCES`), `E<N>` for a number without one.
pub fn name(errno: i32) -> String {
    if let Some((_, name)) = RESTART.iter().find(|(n, _)| *n == errno) {
        return (*name).to_string();
    }
    entry(errno).map_or_else(|| format!("E{errno}"), |(name, _)| name.to_string())
}

/// What the errno means, as glibc's strerror says it.
pub fn text(errno: i32) -> Option<&'static str> {
    if RESTART.iter().any(|(n, _)| *n == errno) {
        return Some("interrupted by a signal; the call is restarted");
    }
    entry(errno).map(|(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_texts_are_glibcs() {
        assert_eq!(name(libc::EACCES), "EACCES");
        assert_eq!(text(libc::EACCES), Some("Permission denied"));
        assert_eq!(name(libc::ENOTTY), "ENOTTY");
        assert_eq!(text(libc::ENOTTY), Some("Inappropriate ioctl for device"));
        // Aliases print as glibc's first name.
        assert_eq!(name(libc::EWOULDBLOCK), "EAGAIN");
        assert_eq!(name(libc::ENOTSUP), "EOPNOTSUPP");
        assert_eq!(name(libc::EDEADLOCK), "EDEADLK");
        assert_eq!(name(libc::EHWPOISON), "EHWPOISON");
        assert_eq!(
            text(libc::EHWPOISON),
            Some("Memory page has hardware error")
        );
        assert_eq!(name(512), "ERESTARTSYS");
        // Unused and out-of-range numbers stay numbers, never a panic.
        assert_eq!(name(41), "E41");
        assert_eq!(text(41), None);
        assert_eq!(name(0), "E0");
        assert_eq!(name(-5), "E-5");
        assert_eq!(name(4000), "E4000");
    }

    #[test]
    fn every_name_matches_the_libc_constant_of_its_number() {
        for (n, want) in [
            (libc::EPERM, "EPERM"),
            (libc::ENOENT, "ENOENT"),
            (libc::EADDRINUSE, "EADDRINUSE"),
            (libc::ECONNREFUSED, "ECONNREFUSED"),
            (libc::ENETUNREACH, "ENETUNREACH"),
            (libc::EROFS, "EROFS"),
            (libc::ENOSYS, "ENOSYS"),
            (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        ] {
            assert_eq!(name(n), want);
        }
    }
}
