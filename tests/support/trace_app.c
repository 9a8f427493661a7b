/* The workloads the trace tests follow, one per first argument. Built
 * static with gcc by the tests; runs as 65532 in a target without a shell.
 *
 *   vfork       vfork()s a child that pause()s: the parent sleeps in the
 *               kernel until the child execs or exits, which it never does,
 *               so it never reports to a tracer.
 *   paths       opens a new 4 KiB path, every time a different one, for ever.
 *   calls       one each of the calls whose decoding is compared with
 *               strace's, then exits 0.
 *   privileged  the calls that need a capability 65532 has not got, each
 *               failing once, then exits 0.
 *   reported    20000 rounds of two calls trace does not report (getppid,
 *               getuid) and one failure of such a call (close), then one
 *               failure each of calls it does (paths, sockets, exec,
 *               identity, signals), and one in a forked child; exits 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>

static void bye(int s) { (void)s; _exit(0); }

static int paths(void) {
    static char p[4096];
    memset(p, 'a', sizeof p - 1);
    memcpy(p, "/nonexistent/", 13);
    for (unsigned long i = 0;; i++) {
        char n[24];
        int len = snprintf(n, sizeof n, "%020lu", i);
        memcpy(p + 13, n, len);
        int fd = open(p, O_RDONLY);
        if (fd >= 0) close(fd);
    }
}

static int calls(void) {
    int p[2];
    if (pipe2(p, 0) != 0) return 1;
    prctl(PR_SET_NAME, "tracecalls", 0, 0, 0);
    prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct termios t;
    ioctl(p[0], TCGETS, &t);
    struct winsize w;
    ioctl(p[0], TIOCGWINSZ, &w);
    int n;
    ioctl(p[0], FIONREAD, &n);
    fcntl(p[0], F_GETFL);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[0], F_GETFD);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    fcntl(p[0], F_DUPFD_CLOEXEC, 10);
    dup2(p[1], 100);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    socket(AF_UNIX, SOCK_DGRAM, 0);
    socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET };
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 8);
    accept4(s, NULL, NULL, SOCK_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = p[0] };
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
    void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(m, 4096, PROT_NONE);
    munmap(m, 8192);
    mmap(NULL, 4096, PROT_READ, MAP_SHARED, p[0], 0);
    open("/nonexistent/app.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    openat(AT_FDCWD, "/nonexistent/dir", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    close(100);
    close(100);
    kill(getpid(), 0);
    lseek(p[0], 0, SEEK_END);
    return 0;
}

static int privileged(void) {
    chroot("/");
    setuid(0);
    setgid(0);
    setgroups(0, NULL);
    chown("/app", 0, 0);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
    bind(s, (struct sockaddr *)&a, sizeof a);
    mknod("/tmp/nosh-null", S_IFCHR | 0600, makedev(1, 3));
    setpriority(PRIO_PROCESS, 0, -5);
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_MEMLOCK, &none);
    static char page[4096];
    mlock(page, sizeof page);
    return 0;
}

static int reported(void) {
    for (int i = 0; i < 20000; i++) {
        getppid();
        getuid();
    }
    close(-1);
    open("/nonexistent/app.conf", O_RDONLY);
    access("/nonexistent/app.conf", R_OK);
    mkdir("/nonexistent/dir", 0755);
    unlink("/nonexistent/file");
    rename("/nonexistent/a", "/nonexistent/b");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(1),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    connect(s, (struct sockaddr *)&a, sizeof a);
    socket(AF_PACKET, SOCK_RAW, 0);
    chroot("/");
    setuid(0);
    kill(1 << 22, 0);
    char *argv[] = { "nope", NULL };
    execve("/nonexistent/bin", argv, argv + 1);
    pid_t child = fork();
    if (child == 0) {
        open("/nonexistent/child.conf", O_RDONLY);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGTERM, bye);
    if (argc > 1 && strcmp(argv[1], "vfork") == 0) {
        if (vfork() == 0) for (;;) pause();
        for (;;) pause();
    }
    if (argc > 1 && strcmp(argv[1], "paths") == 0) return paths();
    if (argc > 1 && strcmp(argv[1], "calls") == 0) return calls();
    if (argc > 1 && strcmp(argv[1], "privileged") == 0) return privileged();
    if (argc > 1 && strcmp(argv[1], "reported") == 0) return reported();
    fprintf(stderr, "usage: trace-app vfork|paths|calls|privileged|reported\n");
    return 2;
}
