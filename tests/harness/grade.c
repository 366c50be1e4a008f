/*
 * grade.c - build/tools/grade: merge the graded suites' results into Gradescope's
 * results.json and print the score table. Driven by tests/harness/grade.sh; see
 * docs/grading.md.
 *
 *   grade [--strict] [--dir DIR] [--out FILE] [--valgrind-points N] [--time SECONDS] SUITE...
 *       For each SUITE (e.g. week1_tensor) read, from DIR (default build/grade):
 *         SUITE.json      what `SUITE --grade` wrote: {"suite", "tests": [{name, score,
 *                         max_score, status, output}]}
 *         SUITE.list      optional: the tests the suite should have, "name points" per
 *                         line (from `SUITE --list`, or from the sources when the suite
 *                         did not build); tests missing from SUITE.json count as failed
 *         SUITE.note      optional: why SUITE.json may be missing (build log, crash)
 *         SUITE.refused   optional: why the submission was refused before anything ran
 *                         (tests/harness/grade-submission.sh); the suite's results, if
 *                         any, are then ignored and its tests fail with this reason
 *         SUITE.valgrind  optional: first line "passed [SHARE]", "failed" or "skipped", then
 *                         what valgrind said; gives the week's valgrind item
 *       A missing or corrupt SUITE.json makes that week's tests failed, with the reason
 *       in their output; results.json is valid whatever the inputs. With --strict
 *       (what tests/harness/grade.sh passes) the list alone says which tests exist and
 *       what they are worth: an entry of SUITE.json that is not in SUITE.list is
 *       ignored, and a suite without a list scores nothing. Tests of a suite whose
 *       name ends in "_hidden" (the instructors' hidden tests) are shown to students
 *       only after the due date.
 *
 *   grade --tests FILE
 *       The same check, then one line per test: "number status score max_score
 *       output-length name", then the total.
 *
 *   grade --summary FILE
 *       Check that FILE is a well-formed results.json (the fields Gradescope reads,
 *       scores adding up) and print one line per week, "PREFIX SUITE score max passed
 *       count", then "total score max". Exit status 1 when it is not.
 *
 * Test numbers are "W.K": W the week (from the suite name "weekW_..."), K the test's
 * position in the week (a second suite of the same week numbers on after the first);
 * each suite's valgrind item comes after its tests.
 */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUTPUT 8192 /* bytes of one test's output kept in results.json */
#define MAX_NOTE 2048   /* bytes of a suite's note repeated in each failed test */

/* ------------------------------------------------------------------ small helpers --- */

static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        fputs("grade: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = xmalloc(n);
    memcpy(copy, s, n);
    return copy;
}

/* printf into a fresh string. */
static char *format(const char *fmt, ...)
{
    va_list args, again;
    va_start(args, fmt);
    va_copy(again, args);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    char *s = xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

/* The whole file, NUL-terminated, or NULL (errno says why). */
static char *read_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, len = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (length)
        *length = len;
    return buf;
}

/*
 * Copy at most @p limit bytes of @p text, keeping it valid UTF-8 (Gradescope parses
 * results.json strictly): invalid bytes become '?', NUL ends the text, and a cut text
 * says how much was cut.
 */
static char *clean_text(const char *text, size_t limit)
{
    size_t n = strlen(text);
    size_t keep = n < limit ? n : limit;
    char *out = xmalloc(keep + 64);
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < keep) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= keep;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xC0) == 0x80;
        if (ok && len == 2)
            ok = c >= 0xC2; /* no overlong forms */
        if (ok) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    if (n > keep)
        snprintf(out + o, 64, "\n[... %zu more bytes cut]", n - keep);
    return out;
}

/* ------------------------------------------------------------------------ the model --- */

typedef struct Test {
    char *name;
    double score;
    double max_score;
    bool passed;
    char *output;
} Test;

typedef struct Week {
    char *suite;
    int number;      /* the W of the test numbers */
    int first;       /* K of its first test minus 1: suites of one week number on */
    Test *tests;
    int count;
    int capacity;
    char *problem;   /* why the suite's results are incomplete, or NULL */
} Week;

static Test *week_add(Week *w, const char *name, double max_score)
{
    if (w->count == w->capacity) {
        w->capacity = w->capacity ? 2 * w->capacity : 32;
        Test *grown = realloc(w->tests, (size_t)w->capacity * sizeof *grown);
        if (!grown) {
            fputs("grade: out of memory\n", stderr);
            exit(1);
        }
        w->tests = grown;
    }
    Test *t = &w->tests[w->count++];
    t->name = xstrdup(name);
    t->score = 0;
    t->max_score = max_score;
    t->passed = false;
    t->output = NULL;
    return t;
}

static Test *week_find(Week *w, const char *name)
{
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->tests[i].name, name) == 0)
            return &w->tests[i];
    return NULL;
}

/* Read SUITE.list ("name points" lines) into @p w; false when there is none. */
static bool load_list(Week *w, const char *path)
{
    char *text = read_file(path, NULL);
    if (!text)
        return false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[512];
        double points;
        /* At most 1e6: "%lf" reads "inf", "nan" and 8e444, and an infinite max_score (or
         * a sum of huge ones) made results.json invalid (found by tests/fuzz/fuzz_grade.c). */
        if (sscanf(line, "%511s %lf", name, &points) == 2 && points >= 0 && points <= 1e6 &&
            !week_find(w, name))
            week_add(w, name, points);
    }
    free(text);
    return true;
}

/* Whether only the tests of SUITE.list count (see the comment at the top). */
static bool strict;

/* Merge SUITE.json; on failure set w->problem and return false. */
static bool load_results(Week *w, const char *path)
{
    size_t length = 0;
    char *text = read_file(path, &length);
    if (!text) {
        w->problem = format("%s: no results (%s): the suite did not build, or crashed or "
                            "was stopped before writing them",
                            w->suite, strerror(errno));
        return false;
    }
    /* The whole file must be one JSON value: text before or after it is corrupt. */
    cJSON *root = strlen(text) == length ? cJSON_ParseWithLengthOpts(text, length + 1, NULL, true)
                                         : NULL;
    free(text);
    cJSON *tests = root ? cJSON_GetObjectItemCaseSensitive(root, "tests") : NULL;
    if (!cJSON_IsObject(root) || !cJSON_IsArray(tests)) {
        w->problem = format("%s: its results file %s is corrupt (not the JSON the suite "
                            "runner writes)", w->suite, path);
        cJSON_Delete(root);
        return false;
    }
    /* Validate every entry before taking any. */
    const cJSON *t;
    cJSON_ArrayForEach(t, tests) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *max = cJSON_GetObjectItemCaseSensitive(t, "max_score");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(t, "status");
        if (!cJSON_IsString(name) || !cJSON_IsNumber(max) || !cJSON_IsString(status) ||
            !(max->valuedouble >= 0 && max->valuedouble <= 1e6)) { /* see load_list */
            w->problem = format("%s: its results file %s has a malformed test entry",
                                w->suite, path);
            cJSON_Delete(root);
            return false;
        }
    }
    cJSON_ArrayForEach(t, tests) {
        const char *name = cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring;
        double max = cJSON_GetObjectItemCaseSensitive(t, "max_score")->valuedouble;
        const char *status = cJSON_GetObjectItemCaseSensitive(t, "status")->valuestring;
        const cJSON *output = cJSON_GetObjectItemCaseSensitive(t, "output");
        Test *test = week_find(w, name);
        if (!test && strict)
            continue; /* not one of the instructor's tests */
        if (!test)
            test = week_add(w, name, max); /* the list, when there is one, sets the points */
        if (test->output)
            continue; /* a duplicate name: the first one counts */
        test->passed = strcmp(status, "passed") == 0;
        test->score = test->passed ? test->max_score : 0;
        test->output = clean_text(cJSON_IsString(output) ? output->valuestring : "",
                                  MAX_OUTPUT);
    }
    cJSON_Delete(root);
    return true;
}

/*
 * SUITE.valgrind: "passed [SHARE]", "failed" or "skipped", then the log. Adds the week's
 * item, worth @p points; a pass earns SHARE of them (0..1, default 1): the share of
 * the suite's points whose tests passed and ran clean under valgrind.
 */
static void load_valgrind(Week *w, const char *path, double points, char **notes)
{
    char *text = read_file(path, NULL);
    if (!text)
        return;
    char *rest = strchr(text, '\n');
    if (rest)
        *rest++ = '\0';
    else
        rest = text + strlen(text);
    if (strcmp(text, "skipped") == 0) {
        char *more = format("%s%s: valgrind item skipped\n", *notes, w->suite);
        free(*notes);
        *notes = more;
        free(text);
        return;
    }
    double share = 1;
    bool passed = strcmp(text, "passed") == 0;
    if (!passed && strncmp(text, "passed ", 7) == 0) {
        char *end;
        share = strtod(text + 7, &end);
        passed = *end == '\0' && share >= 0 && share <= 1;
    }
    Test *item = week_add(w, "valgrind: clean memory while passing", points);
    item->passed = passed;
    /* Whole hundredths, so the scores add up exactly in results.json. */
    item->score = passed ? (double)(long)(points * share * 100 + 0.5) / 100 : 0;
    item->output = clean_text(rest, MAX_OUTPUT);
    free(text);
}

static int week_number(const char *suite, int fallback)
{
    if (strncmp(suite, "week", 4) == 0 && isdigit((unsigned char)suite[4]))
        return atoi(suite + 4);
    return fallback;
}

/* ----------------------------------------------------------------- results.json --- */

/* Members of a test's object and of the top-level object in results.json. */
#define TEST_FIELDS 7
#define RESULT_FIELDS 7

static cJSON *test_json(const Week *w, const Test *t, int index)
{
    cJSON *j = cJSON_CreateObject();
    char *name = format("%s: %s", w->suite, t->name);
    char *number = format("%d.%d", w->number, w->first + index + 1);
    cJSON_AddStringToObject(j, "name", name);
    cJSON_AddStringToObject(j, "number", number);
    cJSON_AddNumberToObject(j, "score", t->score);
    cJSON_AddNumberToObject(j, "max_score", t->max_score);
    cJSON_AddStringToObject(j, "status", t->passed ? "passed" : "failed");
    cJSON_AddStringToObject(j, "output", t->output ? t->output : "");
    size_t n = strlen(w->suite);
    bool hidden = n >= 7 && strcmp(w->suite + n - 7, "_hidden") == 0;
    cJSON_AddStringToObject(j, "visibility", hidden ? "after_due_date" : "visible");
    free(name);
    free(number);
    return j;
}

static bool write_atomically(const char *path, const char *text)
{
    char *tmp = format("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f)
        ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok;
}

static void print_table(const Week *weeks, int nweeks, double score, double max)
{
    printf("\n%-6s %-52s %9s %s\n", "test", "name", "score", "status");
    for (int i = 0; i < nweeks; i++) {
        const Week *w = &weeks[i];
        double ws = 0, wm = 0;
        int passed = 0;
        printf("---- %s\n", w->suite);
        if (w->problem)
            printf("     !! %s\n", w->problem);
        for (int k = 0; k < w->count; k++) {
            const Test *t = &w->tests[k];
            char number[32];
            snprintf(number, sizeof number, "%d.%d", w->number, w->first + k + 1);
            printf("%-6s %-52.52s %4g/%-4g %s\n", number, t->name, t->score, t->max_score,
                   t->passed ? "passed" : "FAILED");
            ws += t->score;
            wm += t->max_score;
            passed += t->passed;
        }
        printf("     %-52s %4g/%-4g (%d of %d passed)\n", "week total", ws, wm, passed,
               w->count);
    }
    printf("\n%-24s %8s %8s %8s\n", "week", "score", "max", "tests");
    for (int i = 0; i < nweeks; i++) {
        double ws = 0, wm = 0;
        int passed = 0;
        for (int k = 0; k < weeks[i].count; k++) {
            ws += weeks[i].tests[k].score;
            wm += weeks[i].tests[k].max_score;
            passed += weeks[i].tests[k].passed;
        }
        printf("%-24s %8g %8g %4d/%-4d%s\n", weeks[i].suite, ws, wm, passed, weeks[i].count,
               weeks[i].problem ? "  (incomplete: see above)" : "");
    }
    printf("%-24s %8g %8g\n", "TOTAL", score, max);
}

static int grade(const char *dir, const char *out, double valgrind_points, double seconds,
                 char **suites, int nsuites)
{
    Week *weeks = xmalloc((size_t)nsuites * sizeof *weeks);
    char *notes = xstrdup("");
    for (int i = 0; i < nsuites; i++) {
        Week *w = &weeks[i];
        memset(w, 0, sizeof *w);
        w->suite = suites[i];
        w->number = week_number(suites[i], i + 1);

        char *list = format("%s/%s.list", dir, suites[i]);
        char *json = format("%s/%s.json", dir, suites[i]);
        char *note_path = format("%s/%s.note", dir, suites[i]);
        char *vg = format("%s/%s.valgrind", dir, suites[i]);
        char *refused_path = format("%s/%s.refused", dir, suites[i]);
        char *refused = read_file(refused_path, NULL);
        free(refused_path);
        load_list(w, list);
        bool complete = false;
        if (refused) {
            w->problem = clean_text(refused, MAX_NOTE);
            free(refused);
        } else {
            complete = load_results(w, json);
        }
        char *note_text = read_file(note_path, NULL);
        char *note = note_text ? clean_text(note_text, MAX_NOTE) : NULL;
        free(note_text);
        if (complete) {
            for (int k = 0; k < w->count; k++)
                if (!w->tests[k].output) {
                    w->tests[k].output = xstrdup("this test did not run (it is missing from "
                                                 "the suite's results)");
                    if (!w->problem)
                        w->problem = format("%s: some tests did not run", w->suite);
                }
        } else {
            for (int k = 0; k < w->count; k++)
                w->tests[k].output = format("%s%s%s", w->problem, note ? "\n" : "",
                                            note ? note : "");
            if (w->count == 0) {
                /* Not even a list: one placeholder, so the week shows in the results. */
                Test *t = week_add(w, "(the suite did not run)", 0);
                t->output = format("%s%s%s", w->problem, note ? "\n" : "", note ? note : "");
            }
        }
        if (w->problem) {
            char *more = format("%s%s\n", notes, w->problem);
            free(notes);
            notes = more;
        }
        load_valgrind(w, vg, valgrind_points, &notes);
        free(note);
        free(list);
        free(json);
        free(note_path);
        free(vg);
    }

    /* Several suites of one week (week4_optim, week4_optim_l2l) number on: 4.1.. 4.40, 4.41.. */
    for (int i = 0; i < nsuites; i++)
        for (int j = 0; j < i; j++)
            if (weeks[j].number == weeks[i].number)
                weeks[i].first += weeks[j].count;

    /* Out of memory, cJSON's constructors return NULL and its Add functions do nothing:
     * every object's members are counted, so a results.json missing a field or a test is
     * never written (Gradescope would reject it); the run fails instead. */
    double score = 0, max = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *tests = cJSON_CreateArray();
    bool complete = root && tests;
    for (int i = 0; i < nsuites; i++)
        for (int k = 0; k < weeks[i].count; k++) {
            score += weeks[i].tests[k].score;
            max += weeks[i].tests[k].max_score;
            cJSON *j = test_json(&weeks[i], &weeks[i].tests[k], k);
            if (!j || cJSON_GetArraySize(j) != TEST_FIELDS || !cJSON_AddItemToArray(tests, j)) {
                cJSON_Delete(j);
                complete = false;
            }
        }
    char *summary = format("strata: %g / %g points over %d suite(s)\n%s", score, max,
                           nsuites, notes);
    char *clean_summary = clean_text(summary, 1 << 16);
    cJSON_AddNumberToObject(root, "score", score);
    cJSON_AddNumberToObject(root, "max_score", max);
    cJSON_AddNumberToObject(root, "execution_time", seconds);
    cJSON_AddStringToObject(root, "output", clean_summary);
    cJSON_AddStringToObject(root, "visibility", "visible");
    cJSON_AddStringToObject(root, "stdout_visibility", "visible");
    if (!cJSON_AddItemToObject(root, "tests", tests)) {
        cJSON_Delete(tests);
        complete = false;
    }
    complete = complete && cJSON_GetArraySize(root) == RESULT_FIELDS;
    char *text = complete ? cJSON_Print(root) : NULL;
    if (!complete)
        errno = ENOMEM;
    bool ok = text && write_atomically(out, text);

    print_table(weeks, nsuites, score, max);
    if (ok)
        printf("results written to %s\n", out);
    else
        fprintf(stderr, "grade: cannot write %s: %s\n", out, strerror(errno));

    free(text);
    free(summary);
    free(clean_summary);
    cJSON_Delete(root);
    for (int i = 0; i < nsuites; i++) {
        for (int k = 0; k < weeks[i].count; k++) {
            free(weeks[i].tests[k].name);
            free(weeks[i].tests[k].output);
        }
        free(weeks[i].tests);
        free(weeks[i].problem);
    }
    free(weeks);
    free(notes);
    return ok ? 0 : 1;
}

/* -------------------------------------------------------------------- --summary --- */

static int invalid(const char *path, const char *why)
{
    fprintf(stderr, "grade --summary: %s is not a valid results.json: %s\n", path, why);
    return 1;
}

static int summary(const char *path, bool per_test)
{
    size_t length = 0;
    char *text = read_file(path, &length);
    if (!text)
        return invalid(path, strerror(errno));
    cJSON *root = cJSON_ParseWithLength(text, length);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return invalid(path, "not a JSON object");
    }
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(root, "score");
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
    const cJSON *etime = cJSON_GetObjectItemCaseSensitive(root, "execution_time");
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output");
    const char *why = !cJSON_IsNumber(score)    ? "no numeric \"score\""
                      : !cJSON_IsArray(tests)   ? "no \"tests\" array"
                      : !cJSON_IsNumber(etime)  ? "no numeric \"execution_time\""
                      : !cJSON_IsString(output) ? "no \"output\" string"
                                                : NULL;
    if (why) {
        cJSON_Delete(root);
        return invalid(path, why);
    }

    enum { MAX_GROUPS = 64 };
    struct {
        char prefix[16];
        char suite[128];
        double score, max;
        int passed, count;
    } groups[MAX_GROUPS];
    int ngroups = 0;
    double total = 0, total_max = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tests) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *number = cJSON_GetObjectItemCaseSensitive(t, "number");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "score");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(t, "max_score");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(t, "status");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(t, "output");
        if (!cJSON_IsString(name) || !cJSON_IsString(number) || !cJSON_IsNumber(s) ||
            !cJSON_IsNumber(m) || !cJSON_IsString(status) || !cJSON_IsString(out) ||
            (strcmp(status->valuestring, "passed") != 0 &&
             strcmp(status->valuestring, "failed") != 0) ||
            s->valuedouble < 0 || s->valuedouble > m->valuedouble) {
            cJSON_Delete(root);
            return invalid(path, "a test lacks name/number/score/max_score/status/output "
                                 "or has inconsistent values");
        }
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%s", number->valuestring);
        char *dot = strchr(prefix, '.');
        if (dot)
            *dot = '\0';
        int g = 0;
        while (g < ngroups && strcmp(groups[g].prefix, prefix) != 0)
            g++;
        if (g == ngroups) {
            if (ngroups == MAX_GROUPS) {
                cJSON_Delete(root);
                return invalid(path, "too many weeks");
            }
            ngroups++;
            memset(&groups[g], 0, sizeof groups[g]);
            snprintf(groups[g].prefix, sizeof groups[g].prefix, "%s", prefix);
            snprintf(groups[g].suite, sizeof groups[g].suite, "%s", name->valuestring);
            char *colon = strchr(groups[g].suite, ':');
            if (colon)
                *colon = '\0';
            for (char *c = groups[g].suite; *c; c++)
                if (isspace((unsigned char)*c))
                    *c = '_';
        }
        if (per_test)
            printf("%s %s %g %g %zu %s\n", number->valuestring, status->valuestring,
                   s->valuedouble, m->valuedouble, strlen(out->valuestring),
                   name->valuestring);
        groups[g].score += s->valuedouble;
        groups[g].max += m->valuedouble;
        groups[g].passed += strcmp(status->valuestring, "passed") == 0;
        groups[g].count++;
        total += s->valuedouble;
        total_max += m->valuedouble;
    }
    if (total < score->valuedouble - 1e-6 || total > score->valuedouble + 1e-6) {
        cJSON_Delete(root);
        return invalid(path, "the tests' scores do not add up to \"score\"");
    }
    for (int g = 0; g < ngroups && !per_test; g++)
        printf("%s %s %g %g %d %d\n", groups[g].prefix, groups[g].suite, groups[g].score,
               groups[g].max, groups[g].passed, groups[g].count);
    printf("total %g %g\n", total, total_max);
    cJSON_Delete(root);
    return 0;
}

/* -------------------------------------------------------------------------- main --- */

static int usage(void)
{
    fputs("usage: grade [--strict] [--dir DIR] [--out FILE] [--valgrind-points N] [--time SECONDS] "
          "SUITE...\n       grade --summary results.json\n       grade --tests results.json\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = "build/grade";
    const char *out = "results.json";
    double valgrind_points = 5, seconds = 0;
    int i = 1;
    if (argc == 3 && strcmp(argv[1], "--summary") == 0)
        return summary(argv[2], false);
    if (argc == 3 && strcmp(argv[1], "--tests") == 0)
        return summary(argv[2], true);
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--strict") == 0) {
            strict = true;
            i--;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        char *end;
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[i + 1];
        else if (strcmp(argv[i], "--valgrind-points") == 0) {
            valgrind_points = strtod(argv[i + 1], &end);
            if (*end || valgrind_points < 0)
                return usage();
        } else if (strcmp(argv[i], "--time") == 0) {
            seconds = strtod(argv[i + 1], &end);
            if (*end)
                return usage();
        } else
            return usage();
    }
    if (i >= argc)
        return usage();
    return grade(dir, out, valgrind_points, seconds, argv + i, argc - i);
}
