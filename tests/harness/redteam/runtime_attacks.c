
/* Attacks that only run-time defenses can stop (graded with the object checks off):
 * each stub of this file runs one, chosen by the function's name. Every one must leave
 * the test failed and the grader's files untouched. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void try_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        static const char fake[] = "{\"suite\": \"week2_autograd\", \"tests\": []}\n";
        if (write(fd, fake, sizeof fake - 1) > 0)
            printf("attack: wrote %s\n", path);
        close(fd);
    } else {
        printf("attack: could not write %s\n", path);
    }
}

static void cheer(void) { puts("all tests passed"); }

static void runtime_attack(const char *fn)
{
    char path[4096];
    /* The runner's results: its standard output, through /proc. */
    snprintf(path, sizeof path, "/proc/%ld/fd/1", (long)getppid());
    try_write(path);
    /* The grader's tool and files, wherever a grading tree may be. */
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "strata-", 7) == 0) {
            snprintf(path, sizeof path, "/tmp/%.200s/tree/build/tools/grade", e->d_name);
            try_write(path);
            snprintf(path, sizeof path, "/tmp/%.200s/grade/week2_autograd.json", e->d_name);
            try_write(path);
        }
    if (d)
        closedir(d);
    fflush(stdout);
    switch (strlen(fn) % 4) {
    case 0:
        _exit(0);
    case 1:
        if (fork() == 0)
            _exit(0);
        wait(NULL);
        _exit(0);
    case 2:
        atexit(cheer);
        exit(0);
    default:
        for (int i = 0; i < 200000; i++)
            puts("all tests passed, all tests passed, all tests passed, all tests passed");
        _exit(0);
    }
}
