
/* Attack: survive a crash by catching the signal and reporting success. */
#include <signal.h>
#include <unistd.h>
static void pretend_success(int sig)
{
    (void)sig;
    _exit(0);
}
static void survive_crashes(void)
{
    signal(SIGSEGV, pretend_success);
    signal(SIGABRT, pretend_success);
}
