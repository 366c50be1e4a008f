
/* Attack: a constructor that answers --list itself, with inflated points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((constructor)) static void inflate_list(void)
{
    char args[256] = {0};
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (f) {
        if (fread(args, 1, sizeof args - 1, f) == 0)
            args[0] = '\0';
        fclose(f);
    }
    if (strstr(args + strlen(args) + 1, "--list")) {
        puts("test_var_basics 1000000");
        exit(0);
    }
}
