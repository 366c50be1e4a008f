/*
 * test_grader.c - the grader (tests/harness/grade.c) under allocation and I/O failure:
 * its parsers of what the suites wrote, and its writing of results.json.
 *
 * The grader is a tool, not a library: its promise is a valid results.json whatever
 * the inputs, and on a failure it exits with status 1 ("grade: out of memory", "cannot
 * write ...") without crashing. So each N runs grade() in a child process; the child
 * may exit 0 or 1, never die of a signal; after status 1 the previous results.json is
 * as it was (and no other file appears), after status 0 it is a valid results.json
 * (grade --summary accepts it).
 *
 * grade.c's calls to malloc/realloc and its file calls are routed to strata's failure
 * injection by macros below, and cJSON's allocations by cJSON_InitHooks, so one
 * numbering covers them all.
 */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

static void *fault_malloc(size_t n) { return strata_alloc_point() ? NULL : malloc(n); }
static void *fault_realloc(void *p, size_t n) { return strata_alloc_point() ? NULL : realloc(p, n); }
static FILE *fault_fopen(const char *path, const char *mode) { return strata_fopen(path, mode); }
static int fault_fputs(const char *s, FILE *f) { return strata_fwrite(s, strlen(s), f) == 0 ? 1 : EOF; }
static int fault_fputc(int c, FILE *f)
{
    unsigned char b = (unsigned char)c;
    return strata_fwrite(&b, 1, f) == 0 ? c : EOF;
}
static size_t fault_fread(void *buf, size_t size, size_t n, FILE *f)
{
    return size ? strata_fread(buf, size * n, f) / size : 0;
}
static int fault_fclose(FILE *f) { return strata_fclose(f); }
static int fault_rename(const char *from, const char *to) { return strata_rename(from, to); }

#define malloc fault_malloc
#define realloc fault_realloc
#define fopen fault_fopen
#define fputs fault_fputs
#define fputc fault_fputc
#define fread fault_fread
#define fclose fault_fclose
#define rename fault_rename
#define main grade_main /* the tool's own main, unused here */
#define exit _exit      /* its "out of memory" exit, past the harness's exit() guard */
#include "../harness/grade.c"
#undef exit
#undef main
#undef rename
#undef fclose
#undef fread
#undef fputc
#undef fputs
#undef fopen
#undef realloc
#undef malloc

/* cJSON's allocations, in the same numbering (plain malloc underneath). */
static void *cjson_malloc(size_t n) { return strata_alloc_point() ? NULL : malloc(n); }

/* What the suites of a small run wrote, and the results.json of a clean run. */
static void write_inputs(void)
{
    static const char *const files[][2] = {
        {"week1_fake.json",
         "{\"suite\": \"week1_fake\", \"tests\": [{\"name\": \"t_add\", \"score\": 2, "
         "\"max_score\": 2, \"status\": \"passed\", \"output\": \"\"}, {\"name\": \"t_mul\", "
         "\"score\": 0, \"max_score\": 3, \"status\": \"failed\", \"output\": \"t_mul: "
         "expected 6, got 5\"}]}\n"},
        {"week1_fake.list", "t_add 2\nt_mul 3\nt_missing 1\n"},
        {"week1_fake.valgrind", "passed\nno leaks\n"},
        {"week2_other.list", "t_backward 4\n"},
        {"week2_other.note", "week2_other: the suite did not build\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *f = fopen(fault_path(files[i][0]), "w");
        ck_assert_ptr_nonnull(f);
        fputs(files[i][1], f);
        fclose(f);
    }
}

/* The content of @p path (malloc'd), "(absent)" when there is none. */
static unsigned char *slurp(const char *path, size_t *size)
{
    FaultBytes b = {0};
    fault_bytes_file(&b, path); /* the path, its NUL, then the content */
    size_t skip = strlen(path) + 1;
    *size = b.size - skip;
    memmove(b.data, b.data + skip, *size);
    return b.data;
}

/* grade --summary's check of a results.json, without its table on stdout. */
static int quiet_summary(const char *path)
{
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    close(null);
    int rc = summary(path, false);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

typedef enum { GRADE_ALLOC, GRADE_IO } GradeFault;

/*
 * grade() in a child with point @p n failing; returns the child's exit status and sets
 * *fired when the child reached point n.
 */
static int grade_child(GradeFault kind, size_t n, StrataIoFault io, bool persistent,
                       bool *fired)
{
    size_t *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(shared, MAP_FAILED);
    *shared = 0;
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        cJSON_Hooks hooks = {cjson_malloc, free};
        cJSON_InitHooks(&hooks);
        if (kind == GRADE_ALLOC)
            strata_alloc_fail_at(n, persistent);
        else
            strata_io_fail_at(n, io, persistent);
        char *suites[] = {"week1_fake", "week2_other"};
        int rc = grade(fault_dir(), fault_path("results.json"), 5, 0, suites, 2);
        *shared = kind == GRADE_ALLOC ? strata_alloc_points() : strata_io_points();
        _exit(rc);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    /* an exit through xmalloc's "out of memory" never got to write the count */
    *fired = *shared >= n || (WIFEXITED(status) && WEXITSTATUS(status) == 1 && *shared == 0);
    munmap(shared, sizeof *shared);
    ck_assert_msg(WIFEXITED(status), "grade: point %zu: killed by signal %d", n,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

static void walk_grade(GradeFault kind, const char *name)
{
    if (fault_under_valgrind()) {
        /* hundreds of forked children, each a copy of valgrind: minutes of CPU for what
         * make sanitize checks (LeakSanitizer and ASan in every child) */
        printf("faults: %-28s skipped under valgrind (make test and make sanitize run it)\n",
               name);
        return;
    }
    fault_dir_remove();
    write_inputs();
    /* The clean run's results.json is the previous file of every run after it. */
    bool fired;
    ck_assert_int_eq(grade_child(kind, 0, STRATA_IO_OK, false, &fired), 0);
    size_t clean_size;
    unsigned char *clean = slurp(fault_path("results.json"), &clean_size);
    static const StrataIoFault io_kinds[] = {STRATA_IO_SHORT, STRATA_IO_ENOSPC, STRATA_IO_EIO};
    int kinds = kind == GRADE_ALLOC ? 1 : 3;
    size_t tested = 0, points = 0;
    for (size_t n = 1, more = 1; more; n = fault_next_n(n)) {
        more = 0;
        for (int k = 0; k < kinds; k++)
            for (int persistent = 0; persistent < 2; persistent++) {
                int rc = grade_child(kind, n, io_kinds[k], persistent, &fired);
                more = more || fired;
                size_t size;
                unsigned char *now = slurp(fault_path("results.json"), &size);
                if (rc == 0) {
                    ck_assert_msg(quiet_summary(fault_path("results.json")) == 0,
                                  "grade: point %zu failed: exit 0 but results.json is not "
                                  "valid", n);
                } else {
                    ck_assert_msg(rc == 1, "grade: point %zu: exit status %d", n, rc);
                    ck_assert_msg(size == clean_size && memcmp(now, clean, size) == 0,
                                  "grade: point %zu failed (exit 1): results.json changed", n);
                }
                ck_assert_msg(access(fault_path("results.json.tmp"), F_OK) != 0,
                              "grade: point %zu: results.json.tmp left behind", n);
                free(now);
                /* every run starts from the clean results.json */
                FILE *f = fopen(fault_path("results.json"), "wb");
                ck_assert_ptr_nonnull(f);
                fwrite(clean, 1, clean_size, f);
                fclose(f);
            }
        if (more) {
            tested++;
            points = n;
        }
    }
    /* (the count of points is the last N that fired: exact when every N was tried) */
    printf("faults: %-28s %5zu %s points, %zu tried (each alone and with all later ones "
           "failing%s): all clean\n", name, points, kind == GRADE_ALLOC ? "allocation" : "I/O",
           tested, kind == GRADE_IO ? "; short, ENOSPC, EIO" : "");
    free(clean);
    fault_dir_remove();
}

START_TEST(alloc_grader) { walk_grade(GRADE_ALLOC, "grade (parse, write)"); }
END_TEST

START_TEST(io_grader) { walk_grade(GRADE_IO, "grade (results.json)"); }
END_TEST

void add_grader_tests(Suite *s)
{
    GRADED_TIMED(s, alloc_grader, 1, 120);
    GRADED_TIMED(s, io_grader, 1, 120);
}
