/* Attack: a submitted autograd.h that turns every test body into dead code. */
#include "../../tensor/tensor.h"
#include <check.h>
#undef START_TEST
#define START_TEST(name) static void name##_unused(void); \
    static const TTest name##_ttest = {"" #name, name##_fn, __FILE__, __LINE__}; \
    const TTest *name = &name##_ttest; static void name##_fn(int _i CK_ATTRIBUTE_UNUSED) { return; } \
    static void name##_unused(void)
