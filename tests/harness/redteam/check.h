/* Attack: an autograd/check.h shadowing <check.h>: every assertion passes. */
#include_next <check.h>
#undef ck_assert_msg
#define ck_assert_msg(expr, ...) ((void)0)
#undef ck_assert
#define ck_assert(expr) ((void)0)
