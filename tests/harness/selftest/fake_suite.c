/*
 * fake_suite.c - a graded suite whose tests misbehave on purpose, to test the grader.
 *
 * Built with tests/harness/runner.c like a real week's suite (but outside build/tests,
 * so neither `make test` nor `make grade` mistakes it for one). Each bad test must cost
 * only its own points: tests/harness/selftest/run.sh grades this suite and checks that.
 *
 *   test_passes        passes                                  3 points, must score 3
 *   test_fails         a plain failed assertion                1 point
 *   test_segfault      NULL dereference ("Received signal 11") 1 point
 *   test_hangs         loops forever (1 s limit)               1 point
 *   test_exit_zero     calls exit(0) half-way: Check alone would count it as passed
 *   test_floods        prints 4 MB then fails: output must be cut
 *   test_leaks         passes, but leaks 1000 bytes: only the valgrind item notices
 *   test_aborts        abort() ("Received signal 6")
 *
 * Attacks on the verdict itself (each 1 point, each must score 0): the code under test
 * runs in the test's process, so these stand for what a submission could do there.
 *   test_underscore_exit   _exit(0) half-way (no exit handlers run)
 *   test_fork_exit         fork(); both copies _exit(0)
 *   test_atexit_exit       an atexit() handler, then exit(0)
 *   test_forged_record     writes "PASS <zeros>" to stdout and to every descriptor it
 *                          might have, then _exit(0)
 *   test_parent_fd         opens /proc/PARENT/fd/1 (where the results go) and writes an
 *                          all-passed results file into it, then _exit(0)
 *   test_nul_record        finds the real nonce on its own stack, writes "PASS <nonce>\n"
 *                          and a NUL into every descriptor, then fails an assertion: the
 *                          harness's "FAIL" record lands after the NUL
 *   test_reopen_record     finds the nonce, reopens the record channel through
 *                          /proc/self/fd (as a test that may open files could), writes
 *                          "PASS <nonce>\n" there, closes the original so the harness's
 *                          own record cannot follow, then fails an assertion
 *   test_forge_then_close  finds the nonce, writes "PASS <nonce>\n" into the record
 *                          channel itself (as code escaping C, or week 4's code writing
 *                          FILE's bytes, could), closes it, then fails an assertion
 *   test_exit_under_vg     passes normally; under valgrind it leaks and then _exit(0)s,
 *                          so a grader trusting the run's exit status would give it
 *                          the valgrind item (SELFTEST_MODE=vgexit registers only it)
 *
 * Resource hogs (SELFTEST_MODE=limits; run by the self-test only as root, where the
 * grader bounds processes and disk: on a developer's machine a fork bomb would not stop):
 *   test_memory_hog        allocates and touches 64 MB blocks until malloc fails
 *   test_fork_memory       forks 8 children that each allocate and touch 512 MB (each
 *                          within the address-space limit, together far past it)
 *   test_fork_bomb         forks until fork fails, one child leaving the process group
 *   test_thread_bomb       starts sleeping threads until pthread_create fails
 *   test_many_files        creates empty files until it cannot
 *   test_disk_hog          writes 64 MB files into every shared folder until it cannot
 *   test_network           connects to an address outside (TEST-NET-1, 192.0.2.1)
 *   test_after_hogs        an honest test after them all: forks, starts threads, writes
 *                          and allocates a little; it must pass (the machine came back)
 *
 * SELFTEST_MODE=leak registers only test_passes and test_leaks (all pass: the valgrind
 * item must fail on the leak); SELFTEST_MODE=clean only test_passes (the item must
 * pass). A copy of the binary whose name contains "crash" segfaults in make_suite(),
 * before any test: the grader must record zero for it and carry on.
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const SUITE_NAME = "selftest";

/* volatile: keep the compiler from proving the crash and the loop away. */
static volatile int *volatile null_pointer;
static volatile unsigned long spin;

START_TEST(test_passes)
{
    printf("a passing test may print; its output is kept quietly\n");
    printf("the test runs as uid %ld\n", (long)getuid());
    ck_assert_int_eq(2 + 2, 4);
}
END_TEST

START_TEST(test_fails)
{
    printf("what the test printed before failing\n");
    ck_assert_msg(1 + 1 == 3, "arithmetic says 1 + 1 = %d, the test wanted 3", 1 + 1);
}
END_TEST

START_TEST(test_segfault)
{
    printf("about to dereference NULL\n");
    *null_pointer = 42;
    ck_assert_int_eq(*null_pointer, 42);
}
END_TEST

START_TEST(test_hangs)
{
    for (;;)
        spin++;
}
END_TEST

START_TEST(test_exit_zero)
{
    printf("calling exit(0) from inside a test\n");
    exit(0);
}
END_TEST

START_TEST(test_floods)
{
    static char line[1025];
    memset(line, 'x', sizeof line - 1);
    for (int i = 0; i < 4096; i++)
        puts(line);
    ck_abort_msg("printed 4 MB and then failed");
}
END_TEST

START_TEST(test_leaks)
{
    char *lost = malloc(1000);
    ck_assert_ptr_nonnull(lost);
    memset(lost, 1, 1000);
    lost = NULL; /* gone: valgrind reports 1,000 bytes definitely lost */
    ck_assert_ptr_null(lost);
}
END_TEST

START_TEST(test_aborts)
{
    abort();
}
END_TEST

START_TEST(test_underscore_exit)
{
    printf("calling _exit(0) from inside a test\n");
    fflush(stdout);
    _exit(0);
}
END_TEST

START_TEST(test_fork_exit)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    _exit(0);
}
END_TEST

static void cheerful_exit(void)
{
    puts("an atexit handler says all is well");
}

START_TEST(test_atexit_exit)
{
    atexit(cheerful_exit);
    exit(0);
}
END_TEST

START_TEST(test_forged_record)
{
    static const char forged[] = "PASS 00000000000000000000000000000000\n";
    for (int fd = 1; fd < 1024; fd++)
        if (write(fd, forged, sizeof forged - 1) < 0)
            errno = 0;
    _exit(0);
}
END_TEST

START_TEST(test_parent_fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd/1", (long)getppid());
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        static const char fake[] = "{\"suite\": \"selftest\", \"tests\": [{\"name\": "
                                   "\"test_parent_fd\", \"score\": 1, \"max_score\": 1, "
                                   "\"status\": \"passed\", \"output\": \"\"}]}\n";
        if (write(fd, fake, sizeof fake - 1) < 0)
            errno = 0;
        printf("opened %s and wrote a forged results file\n", path);
    } else {
        printf("could not open %s: %s\n", path, strerror(errno));
    }
    fflush(stdout);
    _exit(0);
}
END_TEST

/* find_nonce(): the red team's scan of the stack for the real nonce. */
#include "../redteam/find_nonce.c"

/* Whether @p fd is a pipe or a socket (the record channel; Check's own files are not). */
static int is_channel(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

START_TEST(test_nul_record)
{
    char line[40];
    ck_assert_msg(find_nonce(line), "no nonce found on the stack");
    puts("found the nonce; writing it with a NUL");
    for (int fd = 3; fd < 64; fd++)
        if (is_channel(fd) && write(fd, line, 39) < 0) /* with the NUL */
            errno = 0;
    ck_assert_msg(0, "the real work failed");
}
END_TEST

START_TEST(test_reopen_record)
{
    char line[40];
    ck_assert_msg(find_nonce(line), "no nonce found on the stack");
    for (int fd = 3; fd < 64; fd++) {
        if (!is_channel(fd))
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        int again = open(path, O_WRONLY);
        if (again >= 0) {
            if (write(again, line, 38) == 38)
                printf("reopened the record channel %s and forged the record\n", path);
        } else {
            printf("could not reopen the record channel %s: %s\n", path, strerror(errno));
        }
        close(fd); /* the harness's own record cannot follow */
    }
    fflush(stdout);
    ck_assert_msg(0, "the real work failed");
}
END_TEST

START_TEST(test_forge_then_close)
{
    char line[40];
    ck_assert_msg(find_nonce(line), "no nonce found on the stack");
    for (int fd = 3; fd < 64; fd++)
        if (is_channel(fd)) {
            if (write(fd, line, 38) == 38)
                printf("forged the record in descriptor %d and closed it\n", fd);
            close(fd);
        }
    fflush(stdout);
    ck_assert_msg(0, "the real work failed");
}
END_TEST

/* Under valgrind the environment has LD_PRELOAD of valgrind's own libraries. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "valgrind");
}

START_TEST(test_exit_under_vg)
{
    if (under_valgrind()) {
        char *lost = malloc(100);
        lost[0] = 1;
        lost = NULL;
        _exit(0);
    }
    ck_assert_int_eq(1 + 1, 2);
}
END_TEST


/* ---- resource hogs (SELFTEST_MODE=limits) ---- */

START_TEST(test_memory_hog)
{
    size_t block = 64u << 20, total = 0;
    char *p;
    while ((p = malloc(block)) != NULL) {
        memset(p, 1, block); /* touched: real memory, not only address space */
        total += block;
    }
    ck_abort_msg("allocated %zu MB before malloc failed", total >> 20);
}
END_TEST

static char *volatile kept;

START_TEST(test_fork_memory)
{
    size_t each = 512u << 20;
    for (int i = 0; i < 8; i++)
        if (fork() == 0) {
            kept = malloc(each); /* kept: stored where the compiler cannot drop it */
            if (kept)
                memset(kept, 1, each);
            for (;;)
                pause();
        }
    for (;;)
        pause();
}
END_TEST

START_TEST(test_fork_bomb)
{
    long forked = 0;
    pid_t pid;
    while ((pid = fork()) >= 0) {
        if (pid == 0) {
            if (forked == 0)
                setsid(); /* the first leaves the test's process group */
            for (;;)
                pause();
        }
        forked++;
    }
    ck_abort_msg("forked %ld processes before fork failed (%s)", forked, strerror(errno));
}
END_TEST

static void *sleep_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

START_TEST(test_thread_bomb)
{
    long started = 0;
    pthread_t t;
    int err;
    while ((err = pthread_create(&t, NULL, sleep_forever, NULL)) == 0)
        started++;
    ck_abort_msg("started %ld threads before pthread_create failed (%s)", started,
                 strerror(err));
}
END_TEST

START_TEST(test_many_files)
{
    long made = 0;
    char name[64];
    for (;;) {
        snprintf(name, sizeof name, "hog-%ld", made);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            break;
        close(fd);
        made++;
    }
    ck_abort_msg("created %ld files before open failed (%s)", made, strerror(errno));
}
END_TEST

/* Everywhere a test may write: its folder and the folders anyone may write to. */
START_TEST(test_disk_hog)
{
    static const char *const dirs[] = {".", "/tmp", "/var/tmp", "/dev/shm"};
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    long megabytes = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++)
        for (int i = 0; i < 64; i++) {
            char name[128];
            snprintf(name, sizeof name, "%s/strata-disk-hog-%zu-%d", dirs[d], d, i);
            FILE *f = fopen(name, "w");
            if (!f)
                break;
            int full = 0;
            for (int mb = 0; mb < 64 && !full; mb++)
                if (fwrite(chunk, 1, sizeof chunk, f) == sizeof chunk)
                    megabytes++;
                else
                    full = 1;
            if (fclose(f) != 0 || full)
                break;
        }
    ck_abort_msg("wrote %ld MB before writing failed (%s)", megabytes, strerror(errno));
}
END_TEST

START_TEST(test_network)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "no socket: %s", strerror(errno));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "192.0.2.1", &to.sin_addr);
    int rc = connect(fd, (struct sockaddr *)&to, sizeof to);
    int err = errno;
    close(fd);
    ck_abort_msg("connect to 192.0.2.1: %s", rc == 0 ? "connected" : strerror(err));
}
END_TEST

START_TEST(test_after_hogs)
{
    /* A little of everything the hogs took: it must all be there again. */
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed after the hogs: %s", strerror(errno));
    if (pid == 0)
        _exit(7);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, sleep_forever, NULL), 0);
    char *p = malloc(100u << 20);
    ck_assert_ptr_nonnull(p);
    memset(p, 2, 100u << 20);
    free(p);
    FILE *f = fopen("after-hogs", "w");
    ck_assert_msg(f != NULL, "cannot create a file after the hogs: %s", strerror(errno));
    static char chunk[1 << 20];
    ck_assert_int_eq(fwrite(chunk, 1, sizeof chunk, f), sizeof chunk);
    ck_assert_int_eq(fclose(f), 0);
    FILE *g = fopen("/tmp/after-hogs", "w");
    ck_assert_msg(g != NULL, "cannot create a file in /tmp after the hogs: %s", strerror(errno));
    ck_assert_int_eq(fclose(g), 0);
}
END_TEST

Suite *make_suite(void)
{
    if (strstr(program_invocation_short_name, "crash"))
        *null_pointer = 1; /* the whole suite dies: no results file at all */
    Suite *s = suite_create(SUITE_NAME);
    const char *mode = getenv("SELFTEST_MODE");
    if (mode && strcmp(mode, "clean") == 0) {
        GRADED(s, test_passes, 3);
        return s;
    }
    if (mode && strcmp(mode, "leak") == 0) {
        GRADED(s, test_passes, 3);
        GRADED(s, test_leaks, 2);
        return s;
    }
    if (mode && strcmp(mode, "limits") == 0) {
        GRADED(s, test_passes, 3);
        GRADED_TIMED(s, test_memory_hog, 1, 60.0); /* touching 1.5 GB takes a while */
        GRADED_TIMED(s, test_fork_memory, 1, 60.0);
        GRADED(s, test_fork_bomb, 1);
        GRADED(s, test_thread_bomb, 1);
        GRADED(s, test_many_files, 1);
        GRADED(s, test_disk_hog, 1);
        GRADED_TIMED(s, test_network, 1, 2.0);
        GRADED(s, test_after_hogs, 2);
        return s;
    }
    if (mode && strcmp(mode, "vgexit") == 0) {
        GRADED(s, test_passes, 3);
        GRADED(s, test_exit_under_vg, 2);
        return s;
    }
    GRADED(s, test_passes, 3);
    GRADED(s, test_fails, 1);
    GRADED_TIMED(s, test_segfault, 1, 2.0);
    GRADED_TIMED(s, test_hangs, 1, 1.0);
    GRADED(s, test_exit_zero, 1);
    GRADED(s, test_floods, 1);
    GRADED(s, test_leaks, 2);
    GRADED(s, test_aborts, 1);
    GRADED(s, test_underscore_exit, 1);
    GRADED(s, test_fork_exit, 1);
    GRADED(s, test_atexit_exit, 1);
    GRADED(s, test_forged_record, 1);
    GRADED(s, test_parent_fd, 1);
    GRADED(s, test_nul_record, 1);
    GRADED(s, test_reopen_record, 1);
    GRADED(s, test_forge_then_close, 1);
    return s;
}
