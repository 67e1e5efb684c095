/* The workloads of `cargo xtask bench`, timed from inside (so that starting them, e.g. through
 * `docker exec`, is not part of the figure). Compiled with gcc -static; runs in the bench image and
 * on the host.
 *
 *   loop getppid N [B [CPU]]   N getppid() calls: the cheapest system call, a tight loop
 *   loop dd N [B [CPU]]        N pairs of 1-byte read(/dev/zero) and write(/dev/null): dd bs=1
 *   loop stat N [B [CPU]]      N stat() calls of its own program (argv[0]): a file system call by
 *                              path, which trace records (the first time) and checks (every time)
 *   loop mkfiles DIR N   creates DIR/dNNN/fNNNNN, N empty files, 1000 per directory
 *   loop storm DIR N R   opens and closes each of those N files, R rounds, in a burst
 *
 * The timed modes warm up with N/10 untimed iterations, then print one line:
 *   syscalls=<calls> wall_ns=<CLOCK_MONOTONIC> cpu_ns=<CLOCK_THREAD_CPUTIME_ID>
 * With B batches (getppid, dd, stat), the N iterations run as B timed batches of N/B and the
 * line is the batch with the least CPU time: interference (another task, a cache flushed by it,
 * the hypervisor) only ever adds time, so the fastest batch is the least disturbed measurement.
 * With CPU, the process first pins itself to that CPU (the bench runs the locations side by side on
 * one CPU, so that they see the same machine at the same time).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "loop: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long long parse_count(const char *text) {
    char *end;
    long long n = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n <= 0) {
        fprintf(stderr, "loop: not a positive count: %s\n", text);
        exit(2);
    }
    return n;
}

/* Pins the process to the CPU numbered `text`. */
static void pin(const char *text) {
    char *end;
    long cpu = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || cpu < 0 || cpu >= CPU_SETSIZE) {
        fprintf(stderr, "loop: not a CPU number: %s\n", text);
        exit(2);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

static void file_name(char *buf, size_t size, const char *dir, long long i) {
    snprintf(buf, size, "%s/d%03lld/f%05lld", dir, i / 1000, i);
}

static void do_getppid(long long n) {
    for (long long i = 0; i < n; i++) getppid();
}

static int zero_fd, null_fd;

static void do_dd(long long n) {
    char byte;
    for (long long i = 0; i < n; i++) {
        if (read(zero_fd, &byte, 1) != 1) die("read /dev/zero");
        if (write(null_fd, &byte, 1) != 1) die("write /dev/null");
    }
}

static const char *stat_path;

static void do_stat(long long n) {
    struct stat st;
    for (long long i = 0; i < n; i++) {
        if (stat(stat_path, &st) != 0) die(stat_path);
    }
}

static const char *storm_dir;

static void do_storm(long long n) {
    char name[4096];
    for (long long i = 0; i < n; i++) {
        file_name(name, sizeof name, storm_dir, i);
        int fd = open(name, O_RDONLY);
        if (fd < 0) die(name);
        close(fd);
    }
}

/* Runs `body(n)` `rounds` times after a warm-up, prints the timing line. */
static void timed(void (*body)(long long), long long n, long long rounds, long long calls_per_iter,
                  int warm_up) {
    if (warm_up) body(n / 10 > 0 ? n / 10 : 1);
    long long wall = now_ns(CLOCK_MONOTONIC), cpu = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long long r = 0; r < rounds; r++) body(n);
    cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu;
    wall = now_ns(CLOCK_MONOTONIC) - wall;
    printf("syscalls=%lld wall_ns=%lld cpu_ns=%lld\n", n * rounds * calls_per_iter, wall, cpu);
}

/* Runs `body` in `batches` timed batches of n / batches after a warm-up; prints the batch with
 * the least CPU time. */
static void fastest(void (*body)(long long), long long n, long long batches, long long calls_per_iter) {
    long long per = n / batches > 0 ? n / batches : 1;
    long long best_cpu = -1, best_wall = 0;
    body(n / 10 > 0 ? n / 10 : 1);
    for (long long b = 0; b < batches; b++) {
        long long wall = now_ns(CLOCK_MONOTONIC), cpu = now_ns(CLOCK_THREAD_CPUTIME_ID);
        body(per);
        cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu;
        wall = now_ns(CLOCK_MONOTONIC) - wall;
        if (best_cpu < 0 || cpu < best_cpu) {
            best_cpu = cpu;
            best_wall = wall;
        }
    }
    printf("syscalls=%lld wall_ns=%lld cpu_ns=%lld\n", per * calls_per_iter, best_wall, best_cpu);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int timed_mode = argc >= 3 && argc <= 5 &&
                     (strcmp(argv[1], "getppid") == 0 || strcmp(argv[1], "dd") == 0 ||
                      strcmp(argv[1], "stat") == 0);
    if (timed_mode && argc == 5) pin(argv[4]);
    if (timed_mode && strcmp(argv[1], "getppid") == 0) {
        if (argc >= 4) fastest(do_getppid, parse_count(argv[2]), parse_count(argv[3]), 1);
        else timed(do_getppid, parse_count(argv[2]), 1, 1, 1);
    } else if (timed_mode && strcmp(argv[1], "stat") == 0) {
        stat_path = argv[0];
        if (argc >= 4) fastest(do_stat, parse_count(argv[2]), parse_count(argv[3]), 1);
        else timed(do_stat, parse_count(argv[2]), 1, 1, 1);
    } else if (timed_mode) {
        zero_fd = open("/dev/zero", O_RDONLY);
        null_fd = open("/dev/null", O_WRONLY);
        if (zero_fd < 0 || null_fd < 0) die("open /dev/zero or /dev/null");
        if (argc >= 4) fastest(do_dd, parse_count(argv[2]), parse_count(argv[3]), 2);
        else timed(do_dd, parse_count(argv[2]), 1, 2, 1);
    } else if (argc == 4 && strcmp(argv[1], "mkfiles") == 0) {
        long long n = parse_count(argv[3]);
        char name[4096];
        if (mkdir(argv[2], 0755) != 0 && errno != EEXIST) die(argv[2]);
        for (long long i = 0; i < n; i++) {
            if (i % 1000 == 0) {
                snprintf(name, sizeof name, "%s/d%03lld", argv[2], i / 1000);
                if (mkdir(name, 0755) != 0 && errno != EEXIST) die(name);
            }
            file_name(name, sizeof name, argv[2], i);
            int fd = open(name, O_WRONLY | O_CREAT, 0644);
            if (fd < 0) die(name);
            close(fd);
        }
    } else if (argc == 5 && strcmp(argv[1], "storm") == 0) {
        storm_dir = argv[2];
        timed(do_storm, parse_count(argv[3]), parse_count(argv[4]), 2, 0);
    } else {
        fprintf(stderr, "usage: loop getppid|dd|stat N [BATCHES [CPU]] | mkfiles DIR N | storm DIR N ROUNDS\n");
        return 2;
    }
    return 0;
}
