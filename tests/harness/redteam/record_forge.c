
/* Attack: the completion record forged from the test's own process with nothing but
 * C: the nonce is found on the stack (find_nonce.c, appended before this file), and
 * "PASS <nonce>\n" with a NUL after it is written into every descriptor through stderr's
 * FILE (its _fileno member). The test then fails, and the harness's own "FAIL" record
 * follows the NUL. */
#include <stdio.h>
__attribute__((unused)) static void forge_record(void)
{
    char line[40];
    if (!find_nonce(line))
        return;
    int saved = stderr->_fileno;
    for (int fd = 4; fd < 64; fd++) { /* 3: Check's own file */
        stderr->_fileno = fd;
        fwrite(line, 1, 39, stderr);
    }
    stderr->_fileno = saved;
}
