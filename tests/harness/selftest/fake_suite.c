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
 * SELFTEST_MODE=leak registers only test_passes and test_leaks (all pass: the valgrind
 * item must fail on the leak); SELFTEST_MODE=clean only test_passes (the item must
 * pass). A copy of the binary whose name contains "crash" segfaults in make_suite(),
 * before any test: the grader must record zero for it and carry on.
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
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

/* The nonce of this test's completion record, as code in the test's process can find
 * it: 32 lowercase hex digits and a NUL, in a frame above this one on the stack (the
 * harness keeps it there). Fills @p line with "PASS <nonce>\n"; 0 when not found. */
static int find_nonce(char line[40])
{
    volatile const char *p = __builtin_frame_address(0);
    for (long i = 0; i < 16384; i++) {
        int k = 0;
        while (k < 33 && ((p[i + k] >= '0' && p[i + k] <= '9') || (p[i + k] >= 'a' && p[i + k] <= 'f')))
            k++;
        if (k != 32 || p[i + 32] != '\0')
            continue;
        memcpy(line, "PASS ", 5);
        for (int j = 0; j < 32; j++)
            line[5 + j] = p[i + j];
        line[37] = '\n';
        line[38] = '\0';
        return 1;
    }
    return 0;
}

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
