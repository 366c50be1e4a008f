/*
 * fuzz_grade.c - libFuzzer harness for the grader (tests/harness/grade.c), which parses
 * what suites wrote: SUITE.json (cJSON), SUITE.list and SUITE.valgrind. Its
 * promise: results.json is valid whatever the inputs. The input is split at the first two
 * 0x00 bytes into SUITE.json, SUITE.list and SUITE.valgrind; grade() merges them and
 * summary() (`grade --tests`) must then accept the results.json it wrote.
 */
#define main grade_main /* the tool's own main, unused here */
#include "../harness/grade.c"
#undef main

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

/* Remove the working directory when libFuzzer exits. */
static void cleanup(void)
{
    static const char *names[] = {"week1_fuzz.json", "week1_fuzz.list", "week1_fuzz.valgrind",
                                  "results.json", "results.json.tmp"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void put(const char *name, const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        /* /dev/shm when there is one: six file operations per input are slow on /tmp */
        snprintf(dir, sizeof dir, "%s/strata-fuzz-grade-%ld",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        mkdir(dir, 0700);
        atexit(cleanup);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1); /* the score table */
        close(null);
    }
    const uint8_t *end = data + size, *p = data;
    const uint8_t *z1 = memchr(p, 0, size);
    const uint8_t *json_end = z1 ? z1 : end;
    put("week1_fuzz.json", p, (size_t)(json_end - p));
    const uint8_t *list = z1 ? z1 + 1 : end;
    const uint8_t *z2 = memchr(list, 0, (size_t)(end - list));
    const uint8_t *list_end = z2 ? z2 : end;
    put("week1_fuzz.list", list, (size_t)(list_end - list));
    const uint8_t *vg = z2 ? z2 + 1 : end;
    put("week1_fuzz.valgrind", vg, (size_t)(end - vg));

    char out[128];
    snprintf(out, sizeof out, "%s/results.json", dir);
    char *suites[] = {"week1_fuzz"};
    grade(dir, out, 5, 0, suites, 1);
    if (summary(out, true) != 0)
        abort(); /* the grader wrote a results.json Gradescope would reject */
    return 0;
}
