/*
 * runner.c - the main() of every graded suite.
 *
 *   ./week1_tensor                 run every test (fork mode), Check's normal report
 *   ./week1_tensor --list          print "name points" per test
 *   ./week1_tensor --grade FILE    run each test alone, capture what it printed, and
 *                                  write FILE: {"suite", "tests": [{name, score,
 *                                  max_score, status, output}]} for tests/harness/grade.c
 *
 * Grade mode runs one test case at a time with stdout and stderr redirected to a file,
 * because Check does not capture a test's output and the grader must keep what a
 * failing test said. A test that crashes, hangs or exits costs only its own points:
 * Check runs it in a child process with a time limit.
 */
#include "harness.h"

#include <cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 1024
#define MAX_CAPTURE 4096 /* bytes of a test's own output kept in results.json */

typedef struct GradedEntry {
    const char *name;
    int points;
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

static void test_setup(void)
{
    static int guard_installed;
    if (!guard_installed) {
        atexit(exit_guard);
        guard_installed = 1;
    }
    inside_test = 1;
}

static void test_teardown(void) { inside_test = 0; }

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
    long size = ftell(f);
    rewind(f);
    long keep = size < MAX_CAPTURE ? size : MAX_CAPTURE;
    char *text = malloc((size_t)keep + 64);
    size_t got = fread(text, 1, (size_t)keep, f);
    text[got] = '\0';
    if (size > keep)
        snprintf(text + got, 64, "\n[... %ld more bytes of output cut]", size - keep);
    return text;
}

/* Run one test case alone; fill status and the message/output text. */
static cJSON *run_one(const GradedEntry *entry)
{
    SRunner *sr = srunner_create(build_suite());
    srunner_set_fork_status(sr, CK_FORK);

    FILE *capture = tmpfile();
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    if (capture) {
        dup2(fileno(capture), 1);
        dup2(fileno(capture), 2);
    }
    srunner_run_tagged(sr, NULL, entry->name, NULL, NULL, CK_SILENT);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);

    int passed = srunner_ntests_run(sr) == 1 && srunner_ntests_failed(sr) == 0;
    const char *message = "the test did not run";
    TestResult **results = srunner_results(sr);
    if (srunner_ntests_run(sr) >= 1)
        message = tr_msg(results[0]);

    cJSON *test = cJSON_CreateObject();
    cJSON_AddStringToObject(test, "name", entry->name);
    cJSON_AddNumberToObject(test, "score", passed ? entry->points : 0);
    cJSON_AddNumberToObject(test, "max_score", entry->points);
    cJSON_AddStringToObject(test, "status", passed ? "passed" : "failed");

    char *printed = capture ? read_capture(capture) : NULL;
    size_t len = strlen(message) + (printed ? strlen(printed) : 0) + 64;
    char *output = malloc(len);
    snprintf(output, len, "%s%s%s", passed ? "" : message,
             printed && printed[0] ? (passed ? "" : "\n--- output ---\n") : "",
             printed ? printed : "");
    cJSON_AddStringToObject(test, "output", output);
    free(output);
    free(printed);
    free(results);
    if (capture)
        fclose(capture);
    srunner_free(sr);
    return test;
}

static int grade(const char *path)
{
    Suite *probe = build_suite(); /* fills the registry */
    SRunner *probe_runner = srunner_create(probe);
    int count = registry_count;
    GradedEntry entries[MAX_TESTS];
    memcpy(entries, registry, sizeof(GradedEntry) * (size_t)count);
    srunner_free(probe_runner);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "suite", SUITE_NAME);
    cJSON *tests = cJSON_AddArrayToObject(root, "tests");
    for (int i = 0; i < count; i++)
        cJSON_AddItemToArray(tests, run_one(&entries[i]));

    char *text = cJSON_Print(root);
    FILE *out = fopen(path, "w");
    int ok = out && fputs(text, out) >= 0;
    if (out)
        ok = (fclose(out) == 0) && ok;
    free(text);
    cJSON_Delete(root);
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
