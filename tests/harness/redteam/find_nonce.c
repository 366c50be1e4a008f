
/* The nonce of this test's completion record, as code in the test's own process can find
 * it: 32 lowercase hex digits and a NUL, in one of the harness's frames above this one on
 * the stack. The loop reads upward from a local variable, past everything C lets it
 * reach: that is the attack. Fills @p line with "PASS <nonce>\n" and a NUL; returns 0
 * when nothing was found. Shared by the red team (appended to a submission's file, so it
 * uses nothing a submission cannot) and the self-test's fake suite (which includes it). */
#include <string.h>
__attribute__((unused)) static int find_nonce(char line[40])
{
    char probe = 0;
    const char *volatile start = &probe; /* the compiler cannot see where p points */
    volatile const char *p = start;
    for (long i = 0; i < 16384; i++) {
        int k = 0;
        while (k < 33 && ((p[i + k] >= '0' && p[i + k] <= '9') || (p[i + k] >= 'a' && p[i + k] <= 'f')))
            k++;
        if (k != 32 || p[i + 32] != '\0')
            continue;
        memcpy(line, "PASS ", 5);
        for (int j = 0; j < 32; j++)
            line[5 + j] = p[i + j];
        line[37] = '\n';
        line[38] = '\0';
        return 1;
    }
    return 0;
}
