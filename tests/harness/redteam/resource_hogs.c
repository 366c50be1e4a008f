
/* Resource hogs (graded with the object checks off, as root): every stub of this file
 * allocates until malloc fails, forks until fork fails (the children wait forever) and
 * writes 1 MB files until the disk is full, then fails as a stub does. Each must be
 * stopped by the grader's limits and cost only the tests that call a stub, which fail
 * anyway: the submission must score what its honest files earn. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hog_resources(void)
{
    /* Memory: 16 MB blocks (one page of each touched) until malloc fails; given back,
     * so what the test does next is what it would do anyway. */
    static void *blocks[4096];
    int n = 0;
    while (n < 4096 && (blocks[n] = malloc(16u << 20)) != NULL)
        memset(blocks[n++], 1, 4096);
    printf("hog: allocated %d MB before malloc failed\n", 16 * n);
    while (n > 0)
        free(blocks[--n]);
    /* Processes: until fork fails; the children stay. */
    long forked = 0;
    pid_t pid;
    while ((pid = fork()) >= 0) {
        if (pid == 0)
            for (;;)
                pause();
        forked++;
    }
    printf("hog: forked %ld processes before fork failed\n", forked);
    /* Disk: 1 MB files in the working directory until one cannot be made or filled. */
    static char chunk[1 << 20];
    long files = 0;
    const char *why = "a short write";
    for (;;) {
        char name[64];
        snprintf(name, sizeof name, "hog-%ld-%ld", (long)getpid(), files);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            why = strerror(errno);
            break;
        }
        ssize_t wrote = write(fd, chunk, sizeof chunk);
        if (wrote < 0)
            why = strerror(errno);
        close(fd);
        files++;
        if (wrote != (ssize_t)sizeof chunk)
            break;
    }
    printf("hog: wrote %ld files of 1 MB before the disk was full (%s)\n", files, why);
    fflush(stdout);
}
