/*
 * runner.c - the main() of every graded suite.
 *
 *   ./week1_tensor                 run every test (fork mode), Check's normal report
 *   ./week1_tensor --list          print "name points" per test
 *   ./week1_tensor --grade FILE    run each test alone, capture what it printed, and
 *                                  write FILE ("-": standard output): {"suite",
 *                                  "tests": [{name, score, max_score, status, output}]}
 *                                  for tests/harness/grade.c
 *
 * Grade mode runs one test case at a time, each in a child process of its own with its
 * stdout and stderr redirected to a file, because Check does not capture a test's
 * output and the grader must keep what a failing test said. A test that crashes, hangs
 * or exits costs only its own points, and only the parent decides whether it passed
 * (see "Grade mode" below).
 */
#include "harness.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 1024
#define MAX_CAPTURE 4096 /* bytes of a test's own output kept in results.json */

typedef struct GradedEntry {
    const char *name;
    int points;
    double timeout;
} GradedEntry;

static GradedEntry registry[MAX_TESTS];
static int registry_count;

/*
 * Check counts a test that calls exit(0) as passed (its child exits with the expected
 * status). The checked fixture marks the span of a test body; an exit() inside it is
 * turned into exit status 3, which Check reports as an early exit, so the test fails.
 * (Check's own failure path uses _exit(), so it never reaches this guard.)
 */
static volatile int inside_test;

static void exit_guard(void)
{
    if (inside_test) {
        fputs("harness: the test called exit() before finishing; a graded test must "
              "return normally\n", stderr);
        fflush(stdout);
        _exit(3);
    }
}

/* The suite's own fixture (graded_fixture), run inside the runner's. */
static void (*suite_setup)(void);
static void (*suite_teardown)(void);

void graded_fixture(void (*setup)(void), void (*teardown)(void))
{
    suite_setup = setup;
    suite_teardown = teardown;
}

static void test_setup(void)
{
    static int guard_installed;
    if (!guard_installed) {
        atexit(exit_guard);
        guard_installed = 1;
    }
    inside_test = 1;
    if (suite_setup)
        suite_setup();
}

static void test_teardown(void)
{
    if (suite_teardown)
        suite_teardown();
    inside_test = 0;
}

void graded_add(Suite *suite, const char *name, const TTest *test, int points, double timeout)
{
    if (registry_count == MAX_TESTS) {
        fprintf(stderr, "harness: more than %d tests\n", MAX_TESTS);
        exit(2);
    }
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    tcase_add_checked_fixture(tc, test_setup, test_teardown);
    tcase_add_test(tc, test);
    suite_add_tcase(suite, tc);
    registry[registry_count].name = name;
    registry[registry_count].points = points;
    registry[registry_count].timeout = timeout;
    registry_count++;
}

static Suite *build_suite(void)
{
    registry_count = 0;
    return make_suite();
}

/* Read at most MAX_CAPTURE bytes of the file, noting how much was cut. */
static char *read_capture(FILE *f)
{
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (size < 0)
        size = 0;
    rewind(f);
    long keep = size < MAX_CAPTURE ? size : MAX_CAPTURE;
    char *text = malloc((size_t)keep + 64);
    if (!text)
        return NULL;
    size_t got = fread(text, 1, (size_t)keep, f);
    text[got] = '\0';
    if (size > keep)
        snprintf(text + got, 64, "\n[... %ld more bytes of output cut]", size - keep);
    return text;
}

/*
 * Grade mode: the verdict is the parent's.
 *
 * Each test runs in a child process that this (parent) process forks itself; the
 * child runs the one test with Check in no-fork mode and, only when Check says it
 * passed, writes its completion record "PASS <nonce>\n" into a socket that the parent
 * created for this test alone. The nonce is 128 random bits drawn by the parent just
 * before the fork. The parent then decides:
 *
 *   passed  <=>  the child exited normally with status 0, within its time limit,
 *                and the socket holds exactly "PASS <nonce>\n".
 *
 * So a test body that calls exit(0), _exit(0) or abort(), forks and lets the copy
 * exit, kills itself, or prints "PASS" on its stdout fails: none of them writes the
 * record. No code of the suite under test ever runs in the parent (it only registers
 * tests and reads sockets), so nothing the tested code does can change the parent's
 * memory: the parent is also made non-dumpable, which keeps a child of the same
 * user from attaching to it or opening its /proc/PID/fd and /proc/PID/mem. The child
 * closes every descriptor but its capture file and its record socket before the test
 * starts, so the parent's stdout (where the results go) is out of its reach.
 * docs/grading.md ("Threat model") says what this does not stop.
 *
 * The record format: the child writes one line, "PASS <nonce>" or "FAIL <nonce>",
 * followed for FAIL by Check's message (at most MAX_CAPTURE bytes); nothing else.
 */
#define NONCE_BYTES 16

static int make_nonce(char out[2 * NONCE_BYTES + 1])
{
    unsigned char raw[NONCE_BYTES];
    if (getentropy(raw, sizeof raw) != 0)
        return -1;
    for (int i = 0; i < NONCE_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static void write_all(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

/* The child: one test, in no-fork mode, then the record. Never returns. */
static void run_child(Suite *suite, const GradedEntry *entry, int capture_fd, int record_fd,
                      const char *nonce, pid_t parent)
{
    setpgid(0, 0); /* its own group, so the parent can kill whatever it leaves behind */
    /* Die with the parent: a runner stopped from outside (the suite's time limit, ^C)
     * would otherwise leave the test it was waiting for running on its own, hung or
     * spinning, in a group nobody kills. (The parent may have died before this line.) */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(5);
    dup2(capture_fd, 1);
    dup2(capture_fd, 2);
    /* Keep 0, 1, 2 and the record socket; everything else of the parent's goes. */
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536)
        max_fd = 65536;
    for (int fd = 3; fd < max_fd; fd++)
        if (fd != record_fd)
            close(fd);

    /* Which socket the record channel is: a test that closed it (after forging a
     * record), or put a file in its place, would otherwise leave its forgery alone in
     * the channel. Then the record is not written and the child ends with status 4. */
    struct stat channel, after;
    if (fstat(record_fd, &channel) != 0)
        _exit(4);

    SRunner *sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_tagged(sr, NULL, entry->name, NULL, NULL, CK_SILENT);
    inside_test = 0;
    fflush(stdout);
    fflush(stderr);
    int passed = srunner_ntests_run(sr) == 1 && srunner_ntests_failed(sr) == 0;
    const char *message = "the test did not run";
    TestResult **results = srunner_results(sr);
    if (srunner_ntests_run(sr) >= 1)
        message = tr_msg(results[0]);
    char record[MAX_CAPTURE + 64];
    int n = snprintf(record, sizeof record, "%s %s\n%s", passed ? "PASS" : "FAIL", nonce,
                     passed ? "" : message);
    if (n < 0)
        n = 0;
    /* Free what the run allocated, so that under valgrind only the test's own leaks
     * show (the parent's memory stays reachable in this copy of it). */
    free(results);
    srunner_free(sr);
    if (fstat(record_fd, &after) != 0 || after.st_dev != channel.st_dev ||
        after.st_ino != channel.st_ino)
        _exit(4);
    write_all(record_fd, record, (size_t)n < sizeof record ? (size_t)n : sizeof record - 1);
    _exit(0);
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The pids of the children of process @p pid (0: this process), from
 * /proc/PID/task/TID/children (a child is listed under the thread that forked it or, for
 * an orphan handed to a subreaper, under one of its threads). Fills @p pids; returns how
 * many. */
static int list_children(pid_t pid, pid_t *pids, int max)
{
    char dir[64];
    if (pid == 0)
        snprintf(dir, sizeof dir, "/proc/self/task");
    else
        snprintf(dir, sizeof dir, "/proc/%ld/task", (long)pid);
    int n = 0;
    DIR *tasks = opendir(dir);
    if (!tasks)
        return 0;
    struct dirent *t;
    while ((t = readdir(tasks)) != NULL && n < max) {
        if (t->d_name[0] == '.')
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s/%.16s/children", dir, t->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long child;
        while (n < max && fscanf(f, "%ld", &child) == 1)
            pids[n++] = (pid_t)child;
        fclose(f);
    }
    closedir(tasks);
    return n;
}

/* The memory a process holds, in kB: its anonymous and shared-memory pages in RAM
 * (RssAnon + RssShmem of /proc/PID/status; not the program's files, which are shared
 * with every other process running them). 0 when it is gone. */
static long held_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long total = 0, kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld", &kb) == 1 || sscanf(line, "RssShmem: %ld", &kb) == 1)
            total += kb;
    fclose(f);
    return total;
}

/* The memory all of a test's processes may hold together: the address-space limit each
 * has on its own (what grade.sh set), so one test may hold as much whether it forks or
 * not. 0 (no limit) when there is none. */
static long memory_limit_kb(void)
{
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY)
        return 0;
    return (long)(as.rlim_cur / 1024);
}

/* The CPU time @p pid has used, in seconds: its threads' user and system time and that
 * of the children it has waited for (/proc/PID/stat, fields 14-17). 0 when it is gone. */
static double cpu_seconds(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0.0;
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    /* the command name (field 2) may hold spaces and parentheses: skip past its last ')' */
    char *after = got ? strrchr(line, ')') : NULL;
    unsigned long long ticks[4];
    if (!after || sscanf(after + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                         "%llu %llu", &ticks[0], &ticks[1], &ticks[2], &ticks[3]) != 4)
        return 0.0;
    return (double)(ticks[0] + ticks[1] + ticks[2] + ticks[3]) / (double)sysconf(_SC_CLK_TCK);
}

/* What all of this process's descendants (the test's processes: its own and whatever it
 * forked, which stay descendants of this subreaper even if they leave the test's group)
 * hold and have used. */
typedef struct TestsUsage {
    long memory_kb;     /* memory they hold now: 70 processes of 1.5 GB each, each
                         * within its own address-space limit, would take the machine down */
    double cpu_seconds; /* CPU time they have used so far */
} TestsUsage;

static TestsUsage tests_usage(void)
{
    enum { MAX_PROCS = 1024 };
    static pid_t queue[MAX_PROCS];
    int n = list_children(0, queue, MAX_PROCS);
    TestsUsage total = {0, 0.0};
    for (int i = 0; i < n; i++) {
        total.memory_kb += held_kb(queue[i]);
        total.cpu_seconds += cpu_seconds(queue[i]);
        n += list_children(queue[i], queue + n, MAX_PROCS - n);
    }
    return total;
}

/* A test's time limit counts the CPU time its processes use, not the time on the clock:
 * on a grading host running many submissions at once, an honest test may get a small
 * share of a core and take several times its limit on the clock. A test that waits
 * without computing (a sleep, a deadlock) uses no CPU time, so the clock bounds it too,
 * at this many times the limit. */
#define WALL_LIMIT_FACTOR 6

/* Wait for @p pid until its processes have used @p limit seconds of CPU time (or the
 * clock has run WALL_LIMIT_FACTOR times that); kill its whole group afterwards.
 * @p timed_out gets 1 for the CPU limit, 2 for the clock's. @p usage gets what the child
 * used (its peak resident memory, for the note on the memory limit). As it waits, it
 * adds up the memory the test's processes hold: past @p memory_kb (when > 0) they are
 * killed, and @p over_kb says how much they held. */
static int wait_child(pid_t pid, double limit, int *timed_out, struct rusage *usage,
                      long memory_kb, long *over_kb)
{
    double deadline = now_seconds() + WALL_LIMIT_FACTOR * limit;
    int status = 0;
    struct timespec pause = {0, 1000000}; /* 1 ms, growing to 20 ms */
    *timed_out = 0;
    *over_kb = 0;
    memset(usage, 0, sizeof *usage);
    for (;;) {
        pid_t got = wait4(pid, &status, WNOHANG, usage);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        TestsUsage used = tests_usage();
        if (memory_kb > 0 && used.memory_kb > memory_kb)
            *over_kb = used.memory_kb;
        else if (used.cpu_seconds > limit)
            *timed_out = 1;
        else if (now_seconds() > deadline)
            *timed_out = 2;
        if (*over_kb || *timed_out) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            wait4(pid, &status, 0, usage);
            break;
        }
        nanosleep(&pause, NULL);
        if (pause.tv_nsec < 20000000)
            pause.tv_nsec *= 2;
    }
    kill(-pid, SIGKILL); /* anything the test forked and left running */
    return status;
}

/* What the child left in the socket (at most @p size - 1 bytes), NUL-terminated. */
static size_t read_record(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/*
 * Limits: what one test may take from the machine.
 *
 * The grader (tests/harness/grade.sh) starts the runner with resource limits that every
 * test's process inherits: address space (RLIMIT_AS: memory), processes and threads
 * (RLIMIT_NPROC, counted per user, so only when the suites run as their own user), the
 * size of each file (RLIMIT_FSIZE), and, as root, a private size-limited tmpfs that is
 * the only place a test can write (GRADE_SCRATCH names it). The kernel enforces the
 * limits: past them, malloc returns NULL, fork and pthread_create fail with EAGAIN, a
 * write fails with ENOSPC. What the runner adds is what the kernel does not do:
 *
 *  - the memory of a test that forks: the address-space limit bounds each process, so
 *    the runner adds up what all of the test's processes hold while it waits for them
 *    and kills them past the same limit (wait_child);
 *  - nothing a test started outlives it: the runner is a child subreaper, so whatever
 *    a test forked comes back to it when its parent dies, even a process that left the
 *    test's process group, and it is killed and reaped before the next test (zombies
 *    count against the process limit too);
 *  - what a test wrote is removed before the next test, so one test that fills the
 *    scratch space costs that test only;
 *  - a failed test's output says which limit it ran into, as far as the runner can
 *    tell from outside (docs/grading.md, "Limits").
 */

/* Kill and reap every process the last test left behind (its own process is reaped
 * already). A fork bomb keeps forking while it is killed, so this repeats until no
 * child is left, for at most about two seconds. Returns how many it reaped. */
static int reap_leftovers(void)
{
    int reaped = 0;
    struct timespec pause = {0, 1000000}; /* 1 ms */
    for (int round = 0; round < 2000; round++) {
        pid_t pids[256];
        int n = list_children(0, pids, 256);
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        pid_t got;
        int status;
        while ((got = waitpid(-1, &status, WNOHANG)) > 0)
            reaped++;
        if (got < 0 && errno == ECHILD)
            break; /* no child left, dead or alive */
        nanosleep(&pause, NULL);
    }
    return reaped;
}

/* Remove everything the run user wrote into the scratch folder GRADE_SCRATCH (as root,
 * grade.sh makes it the private tmpfs holding every folder a test can write to), so the
 * next test starts with all of it. The runner runs as that user and removes only what
 * it owns (the grader's own files there are root's). find and rm, in a child: they cope
 * with trees of any depth. */
static void clean_scratch(const char *scratch)
{
    char uid[32];
    snprintf(uid, sizeof uid, "%ld", (long)getuid());
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("find", "find", scratch, "-mindepth", "1", "-maxdepth", "1", "-user", uid,
               "-exec", "rm", "-rf", "--", "{}", "+", (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* Append to @p message (of @p size) which limits a failed test seems to have met: its
 * peak memory near the address-space limit, processes left behind, a full scratch. */
static void note_limits(char *message, size_t size, const struct rusage *usage, int leftovers,
                        const char *scratch)
{
    size_t len = strlen(message);
    struct rlimit as, nproc;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY &&
        (double)usage->ru_maxrss * 1024.0 >= 0.5 * (double)as.rlim_cur && len < size)
        len += (size_t)snprintf(message + len, size - len,
                                "\n[limits] the test's process grew to %ld MB; its memory "
                                "limit is %lu MB of address space (past it, allocations fail)",
                                usage->ru_maxrss / 1024, (unsigned long)(as.rlim_cur >> 20));
    if (leftovers > 0 && len < size) {
        len += (size_t)snprintf(message + len, size - len,
                                "\n[limits] the test left %d process(es) behind; they were "
                                "killed",
                                leftovers);
        if (getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY && len < size)
            len += (size_t)snprintf(message + len, size - len,
                                    " (at most %lu processes and threads may run at once)",
                                    (unsigned long)nproc.rlim_cur);
    }
    struct statvfs fs;
    if (scratch && statvfs(scratch, &fs) == 0 && fs.f_blocks > 0 && len < size &&
        (fs.f_bavail < fs.f_blocks / 64 || (fs.f_files > 0 && fs.f_favail < fs.f_files / 64)))
        snprintf(message + len, size - len,
                 "\n[limits] the test filled its scratch space (%lu MB and %lu files for "
                 "everything a test writes; past them, writes fail with \"No space left\")",
                 (unsigned long)((fs.f_blocks * fs.f_frsize) >> 20), (unsigned long)fs.f_files);
}

static double timeout_multiplier(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double x = m ? atof(m) : 1.0;
    return x >= 1.0 ? x : 1.0;
}

/* Run one test in its own child; fill status and the message/output text. */
static cJSON *run_one(Suite *suite, const GradedEntry *entry)
{
    const char *scratch = getenv("GRADE_SCRATCH");
    char nonce[2 * NONCE_BYTES + 1];
    char message[MAX_CAPTURE + 256];
    int passed = 0;
    FILE *capture = tmpfile();
    int record_fds[2] = {-1, -1};
    /* A socket pair, not a pipe: /proc/self/fd/N of a socket cannot be opened, so a
     * test that may open files (week 4's may) cannot get a second descriptor of it;
     * close-on-exec, so no program a test starts inherits it. */
    if (make_nonce(nonce) != 0 || !capture ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, record_fds) != 0) {
        snprintf(message, sizeof message, "harness: cannot set the test up (%s)",
                 strerror(errno));
    } else {
        fflush(stdout);
        fflush(stderr);
        double limit = entry->timeout * timeout_multiplier();
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            close(record_fds[0]);
            run_child(suite, entry, fileno(capture), record_fds[1], nonce, parent);
        }
        close(record_fds[1]);
        if (pid < 0) {
            snprintf(message, sizeof message, "harness: fork failed (%s)", strerror(errno));
        } else {
            setpgid(pid, pid);
            fcntl(record_fds[0], F_SETFL, O_NONBLOCK);
            int timed_out;
            struct rusage usage;
            long over_kb;
            int status = wait_child(pid, limit, &timed_out, &usage, memory_limit_kb(), &over_kb);
            int leftovers = reap_leftovers();
            char record[MAX_CAPTURE + 128];
            size_t record_len = read_record(record_fds[0], record, sizeof record);
            char pass_line[2 * NONCE_BYTES + 8], fail_line[2 * NONCE_BYTES + 8];
            snprintf(pass_line, sizeof pass_line, "PASS %s\n", nonce);
            snprintf(fail_line, sizeof fail_line, "FAIL %s\n", nonce);
            int exited_zero = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (over_kb > 0) {
                snprintf(message, sizeof message,
                         "[limits] the test's processes held %ld MB of memory together, more "
                         "than its limit of %ld MB; they were killed",
                         over_kb / 1024, memory_limit_kb() / 1024);
            } else if (timed_out == 1) {
                snprintf(message, sizeof message,
                         "Test timeout expired (%g s of CPU time used)", limit);
            } else if (timed_out == 2) {
                snprintf(message, sizeof message,
                         "Test timeout expired (%g s on the clock, %d times the limit of "
                         "%g s of CPU time: the test waited without computing)",
                         WALL_LIMIT_FACTOR * limit, WALL_LIMIT_FACTOR, limit);
            } else if (status != -1 && WIFSIGNALED(status)) {
                snprintf(message, sizeof message, "Received signal %d (%s)",
                         WTERMSIG(status), strsignal(WTERMSIG(status)));
            } else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 4) {
                snprintf(message, sizeof message,
                         "the test closed or replaced the harness's record channel (a "
                         "graded test must leave the descriptors it did not open alone)");
            } else if (record_len == strlen(pass_line) &&
                       memcmp(record, pass_line, record_len) == 0 && exited_zero) {
                /* Byte for byte and nothing after it: a forged "PASS <nonce>\n\0" in
                 * front of the harness's own "FAIL" record is not a pass. */
                passed = 1;
                message[0] = '\0';
            } else if (strncmp(record, fail_line, strlen(fail_line)) == 0 && exited_zero) {
                snprintf(message, sizeof message, "%s", record + strlen(fail_line));
            } else if (record[0] == '\0') {
                snprintf(message, sizeof message,
                         "the test ended (exit status %d) before finishing: it called exit() "
                         "or _exit(), or its process was replaced; a graded test must "
                         "return normally",
                         status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            } else if (!exited_zero) {
                snprintf(message, sizeof message,
                         "the test's process ended with status %d after the test "
                         "(under valgrind: errors or leaks were found in it)",
                         status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            } else {
                snprintf(message, sizeof message,
                         "the test's completion record is not the harness's (something "
                         "wrote into the grader's record socket); the test counts as failed");
            }
            if (!passed)
                note_limits(message, sizeof message, &usage, leftovers, scratch);
            if (scratch)
                clean_scratch(scratch);
        }
    }
    if (record_fds[0] >= 0)
        close(record_fds[0]);

    cJSON *test = cJSON_CreateObject();
    cJSON_AddStringToObject(test, "name", entry->name);
    cJSON_AddNumberToObject(test, "score", passed ? entry->points : 0);
    cJSON_AddNumberToObject(test, "max_score", entry->points);
    cJSON_AddStringToObject(test, "status", passed ? "passed" : "failed");

    char *printed = capture ? read_capture(capture) : NULL;
    size_t len = strlen(message) + (printed ? strlen(printed) : 0) + 64;
    char *output = malloc(len);
    if (output) {
        snprintf(output, len, "%s%s%s", passed ? "" : message,
                 printed && printed[0] ? (passed ? "" : "\n--- output ---\n") : "",
                 printed ? printed : "");
        cJSON_AddStringToObject(test, "output", output);
    } else {
        cJSON_AddStringToObject(test, "output", "");
    }
    free(output);
    free(printed);
    if (capture)
        fclose(capture);
    return test;
}

/* Whether @p name is one of the blank-separated words of @p list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Grade every test; write the JSON to @p path ("-": standard output). */
static int grade(const char *path)
{
    /* No child of ours (the tested code runs only in children) may attach to this
     * process or open its /proc files: see the comment above make_nonce(). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Whatever a test forks is handed back to this process when its parent dies, even
     * if it left the test's process group: reap_leftovers() finds it there. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    Suite *suite = build_suite(); /* fills the registry */
    SRunner *owner = srunner_create(suite); /* frees the suite at the end */
    int count = registry_count;

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "suite", SUITE_NAME);
    cJSON *tests = cJSON_AddArrayToObject(root, "tests");
    /* GRADE_ONLY="name ...": only those tests (the grader's valgrind pass reruns the
     * tests that passed, and no others: a hanging test would cost its limit 100 times). */
    const char *only = getenv("GRADE_ONLY");
    for (int i = 0; i < count; i++)
        if (!only || listed(only, registry[i].name))
            cJSON_AddItemToArray(tests, run_one(suite, &registry[i]));

    char *text = cJSON_Print(root);
    int to_stdout = strcmp(path, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(path, "w");
    int ok = out && text && fputs(text, out) >= 0 && fputc('\n', out) != EOF;
    if (out)
        ok = (to_stdout ? fflush(out) == 0 : fclose(out) == 0) && ok;
    free(text);
    cJSON_Delete(root);
    srunner_free(owner);
    if (!ok) {
        fprintf(stderr, "%s: cannot write %s\n", SUITE_NAME, path);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* Line-buffered even into a file or pipe: a test that crashes or times out keeps
     * what it printed up to its last full line (fork mode kills the child unflushed). */
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    if (argc == 3 && strcmp(argv[1], "--grade") == 0)
        return grade(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        SRunner *sr = srunner_create(build_suite());
        for (int i = 0; i < registry_count; i++)
            printf("%s %d\n", registry[i].name, registry[i].points);
        srunner_free(sr);
        return 0;
    }
    SRunner *sr = srunner_create(build_suite());
    srunner_run_all(sr, CK_NORMAL);
    inside_test = 0; /* CK_FORK=no: a failed last test skips its teardown */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
