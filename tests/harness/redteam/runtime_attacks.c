
/* Attacks that only run-time defenses can stop (graded with the object checks off):
 * each stub of this file runs one, chosen by the function's name. Every one must leave
 * the test failed and the grader's files untouched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
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

/* Reach into the runner's parent, which decides the verdicts (and into this process's
 * own code): attach to it, write its memory directly, or open its memory or this
 * process's own as a file, where a write would patch the harness's code. The parent is
 * non-dumpable, and its children inherit that: each must fail. */
ssize_t process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nlocal,
                          const struct iovec *remote, unsigned long nremote,
                          unsigned long flags); /* <sys/uio.h> declares it for _GNU_SOURCE */

static void try_parent(void)
{
    char path[64];
    pid_t parent = getppid();
    snprintf(path, sizeof path, "/proc/%ld/mem", (long)parent);
    for (int i = 0; i < 2; i++) {
        const char *mem = i == 0 ? path : "/proc/self/mem";
        int fd = open(mem, O_RDWR);
        if (fd >= 0) {
            printf("attack: wrote (opened for writing) %s\n", mem);
            close(fd);
        } else {
            printf("attack: could not open %s: %s\n", mem, strerror(errno));
        }
    }
    if (ptrace(PTRACE_ATTACH, parent, NULL, NULL) == 0)
        printf("attack: wrote (attached to) the runner %ld\n", (long)parent);
    else
        printf("attack: could not attach to the runner: %s\n", strerror(errno));
    /* The same address holds the same variable in the parent: fork copied this layout. */
    static char verdict;
    struct iovec local = {&verdict, 1}, remote = {&verdict, 1};
    if (process_vm_writev(parent, &local, 1, &remote, 1, 0) == 1)
        printf("attack: wrote the runner's memory\n");
    else
        printf("attack: could not write the runner's memory: %s\n", strerror(errno));
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
    try_parent();
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
