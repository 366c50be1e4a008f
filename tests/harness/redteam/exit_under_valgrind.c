
/* Attack: under valgrind (its preload library is in LD_PRELOAD), leak and exit 0 at
 * once, hoping the valgrind item trusts the run's exit status. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void vanish_under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) {
        void *lost = malloc(64);
        (void)lost;
        _exit(0);
    }
}
