/* argprobe: system calls whose arguments Docker's default seccomp profile filters, for
 * tests/tests/check.rs. `argprobe good` makes them with arguments Docker's default allows
 * (personality query, prctl(PR_GET_DUMPABLE), fork = clone without namespace flags, an AF_INET
 * socket) and exits 0 when all work. `argprobe personality|clone|socket` makes one with arguments
 * Docker's default refuses (personality(0x1234), clone(CLONE_NEWUSER), socket(AF_ALG));
 * `argprobe persona8|timerslack` one Docker's default allows but `good` never makes
 * (personality(UNAME26 = 0x8), prctl(PR_GET_TIMERSLACK)). Each prints "ok" or the errno's name;
 * it exits 0 when the call worked, 1 on EPERM, 2 on any other error. Built static by the test. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif

static int report(long result) {
    if (result >= 0) {
        puts("ok");
        return 0;
    }
    printf("%s\n", strerrorname_np(errno));
    return errno == EPERM ? 1 : 2;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: argprobe good|personality|persona8|timerslack|clone|socket\n", stderr);
        return 3;
    }
    const char *what = argv[1];
    if (strcmp(what, "good") == 0) {
        if (syscall(SYS_personality, 0xffffffffUL) < 0) return report(-1);
        if (syscall(SYS_prctl, (unsigned long)PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL) < 0) return report(-1);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return report(-1);
        close(fd);
        pid_t child = fork();
        if (child < 0) return report(-1);
        if (child == 0) _exit(0);
        int status = 0;
        waitpid(child, &status, 0);
        puts("good");
        return 0;
    }
    if (strcmp(what, "personality") == 0) {
        long old = syscall(SYS_personality, 0x1234UL);
        if (old >= 0) syscall(SYS_personality, (unsigned long)old);
        return report(old);
    }
    if (strcmp(what, "persona8") == 0) {
        long old = syscall(SYS_personality, 0x8UL);
        if (old >= 0) syscall(SYS_personality, (unsigned long)old);
        return report(old);
    }
    if (strcmp(what, "timerslack") == 0) {
        return report(syscall(SYS_prctl, (unsigned long)PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL));
    }
    if (strcmp(what, "clone") == 0) {
        long child = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
        if (child == 0) _exit(0);
        if (child > 0) waitpid((pid_t)child, NULL, 0);
        return report(child);
    }
    if (strcmp(what, "socket") == 0) {
        int fd = socket(AF_ALG, SOCK_SEQPACKET, 0);
        if (fd >= 0) close(fd);
        return report(fd);
    }
    fputs("usage: argprobe good|personality|persona8|timerslack|clone|socket\n", stderr);
    return 3;
}
