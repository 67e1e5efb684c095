/*
 * The file/program/capability/socket workload of the real-system tests (trace-test/workload:local).
 * Each step makes one access the tests look for in the recording, with paths under /data so the
 * tests can tell the workload's accesses from everything else. Run as root inside the container:
 *   /usr/local/bin/workload            (prints "workload-ok" and exits 0 when every step worked)
 * It is dynamically linked on purpose: the loader maps libc with PROT_EXEC (an mmap-exec access).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(1);
    }
}

static void touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0, path);
    check(write(fd, "x\n", 2) == 2, "write");
    close(fd);
}

int main(void) {
    char buf[64];
    struct stat st;

    /* An absolute open for reading. */
    int fd = open("/data/absolute.txt", O_RDONLY);
    check(fd >= 0, "open absolute");
    check(read(fd, buf, sizeof buf) >= 0, "read absolute");
    close(fd);

    /* chdir, then a relative open. */
    check(chdir("/data/sub") == 0, "chdir");
    fd = open("relative.txt", O_RDONLY);
    check(fd >= 0, "open relative");
    close(fd);

    /* openat with a directory fd. */
    int dirfd = open("/data/dirfd", O_RDONLY | O_DIRECTORY);
    check(dirfd >= 0, "open dirfd");
    fd = openat(dirfd, "at.txt", O_RDONLY);
    check(fd >= 0, "openat");
    close(fd);
    close(dirfd);

    /* A symlink opened through: requested /data/link.txt, resolved /data/target.txt. */
    fd = open("/data/link.txt", O_RDONLY);
    check(fd >= 0, "open link");
    close(fd);

    /* A file created, written, appended to, then deleted. */
    touch("/data/created.txt");
    fd = open("/data/created.txt", O_WRONLY | O_APPEND);
    check(fd >= 0, "open append");
    close(fd);
    check(unlink("/data/created.txt") == 0, "unlink");

    /* A probe of a missing path. */
    check(open("/data/missing.txt", O_RDONLY) < 0, "open missing");

    /* Metadata only. */
    check(stat("/data/stat-only.txt", &st) == 0, "stat");

    /* rename, chmod, chown. */
    touch("/data/rename-from.txt");
    check(rename("/data/rename-from.txt", "/data/rename-to.txt") == 0, "rename");
    check(chmod("/data/chmod.txt", 0600) == 0, "chmod");
    check(chown("/data/chown.txt", 65534, 65534) == 0, "chown");

    /* mmap PROT_EXEC of a file. */
    fd = open("/data/exec-map.bin", O_RDONLY);
    check(fd >= 0, "open exec-map");
    void *map = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    check(map != MAP_FAILED, "mmap exec");
    munmap(map, 4096);
    close(fd);

    /* exec of a program. */
    pid_t pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status;
    check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec true");

    /* A port below 1024 bound as root (checks CAP_NET_BIND_SERVICE). */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    check(s >= 0, "socket");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(81);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(bind(s, (struct sockaddr *)&addr, sizeof addr) == 0, "bind");
    check(listen(s, 1) == 0, "listen");
    close(s);

    puts("workload-ok");
    return 0;
}
