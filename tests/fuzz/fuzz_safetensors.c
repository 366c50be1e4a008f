/*
 * fuzz_safetensors.c - libFuzzer harness for nn_safetensors_load.
 * Any input must give either a state dict or NULL with a message: no crash, no leak,
 * no out-of-bounds read (AddressSanitizer and UBSan watch).
 */
#include "fuzz_common.h"
#include "nn.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(data, size, ".safetensors");
    strata_clear_error();
    NnStateDict *sd = nn_safetensors_load(path);
    if (!sd && strata_last_error()[0] == '\0')
        abort(); /* a failure must say why */
    nn_state_dict_free(sd);
    unlink(path);
    return 0;
}
