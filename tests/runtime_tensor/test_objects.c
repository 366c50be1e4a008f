/*
 * test_objects.c - reference-counted objects and scopes (tensor/core.c), and the
 * tensor lifetime built on them (tensor_retain/tensor_release, the destroy path that
 * frees a tensor and its storage, in tensor/tensor.c).
 *
 * The object and scope tests use a tiny object type of their own (a StrataObject
 * header and a counter of destructions), so they test the scope machinery alone.
 */
#include "runtime.h"

/* ------------------------------------------------------------ a test object type --- */

typedef struct Probe {
    StrataObject base;
    int *destroyed; /* incremented by the destroy function */
} Probe;

static void probe_destroy(StrataObject *object)
{
    Probe *p = (Probe *)object;
    (*p->destroyed)++;
    strata_free(p);
}

static Probe *probe_new(int *counter)
{
    Probe *p = strata_malloc(sizeof *p);
    ck_assert_msg(p != NULL, "strata_malloc failed: %s", strata_last_error());
    p->destroyed = counter;
    strata_object_init(&p->base, probe_destroy);
    return p;
}

/* ------------------------------------------------------------ objects and scopes --- */

START_TEST(test_object_refcount)
{
    BEGIN;
    /* Close the test's scope: with no scope open the caller owns the object. */
    scope_end(scope_);
    int destroyed = 0;
    Probe *p = probe_new(&destroyed);
    ck_assert_int_eq(p->base.refcount, 1);
    strata_object_retain(&p->base);
    ck_assert_int_eq(p->base.refcount, 2);
    strata_object_release(&p->base);
    ck_assert_int_eq(destroyed, 0);
    strata_object_release(&p->base);
    ck_assert_int_eq(destroyed, 1);
    strata_object_retain(NULL);
    strata_object_release(NULL);
    scope_ = scope_begin();
    END;
}
END_TEST

START_TEST(test_scope_collects)
{
    BEGIN;
    int destroyed = 0;
    size_t held = scope_depth_objects();
    Scope *s = scope_begin();
    probe_new(&destroyed);
    probe_new(&destroyed);
    probe_new(&destroyed);
    ck_assert_uint_eq(scope_depth_objects(), held + 3);
    ck_assert_int_eq(destroyed, 0);
    scope_end(s);
    ck_assert_int_eq(destroyed, 3);
    ck_assert_uint_eq(scope_depth_objects(), held);
    END;
}
END_TEST

START_TEST(test_scope_retained_survive)
{
    BEGIN;
    int destroyed = 0;
    Scope *s = scope_begin();
    Probe *keep = probe_new(&destroyed);
    probe_new(&destroyed);
    strata_object_retain(&keep->base);
    scope_end(s);
    ck_assert_int_eq(destroyed, 1); /* the other one */
    ck_assert_int_eq(keep->base.refcount, 1);
    /* Still usable, then released by its owner. */
    strata_object_release(&keep->base);
    ck_assert_int_eq(destroyed, 2);
    END;
}
END_TEST

START_TEST(test_scope_release_inside)
{
    BEGIN;
    int destroyed = 0;
    Scope *s = scope_begin();
    Probe *p = probe_new(&destroyed);
    probe_new(&destroyed);
    size_t held = scope_depth_objects();
    strata_object_release(&p->base); /* the scope's reference: destroyed right away */
    ck_assert_int_eq(destroyed, 1);
    ck_assert_uint_eq(scope_depth_objects(), held - 1);
    scope_end(s); /* must not release p again */
    ck_assert_int_eq(destroyed, 2);
    END;
}
END_TEST

START_TEST(test_scope_nested)
{
    BEGIN;
    int outer_d = 0, inner_d = 0;
    Scope *outer = scope_begin();
    probe_new(&outer_d);
    Scope *inner = scope_begin();
    probe_new(&inner_d);
    probe_new(&inner_d);
    scope_end(inner);
    ck_assert_int_eq(inner_d, 2);
    ck_assert_int_eq(outer_d, 0);
    scope_end(inner); /* already closed: ignored */
    ck_assert_int_eq(outer_d, 0);

    /* Ending an outer scope closes the inner ones left open. */
    Scope *inner2 = scope_begin();
    probe_new(&inner_d);
    scope_end(outer);
    ck_assert_int_eq(outer_d, 1);
    ck_assert_int_eq(inner_d, 3);
    scope_end(inner2); /* closed with its outer scope: ignored */
    scope_end(NULL);
    ck_assert_int_eq(inner_d, 3);
    END;
}
END_TEST

START_TEST(test_tensor_release_in_scope)
{
    BEGIN;
    StrataMemStats m0 = strata_mem_stats();
    Scope *s = scope_begin();
    Tensor *a = tensor_new(SHAPE(64), 1, "test");
    ck_assert_msg(a != NULL, "tensor_new failed: %s", strata_last_error());
    ck_assert_uint_ge(strata_mem_stats().bytes_live, m0.bytes_live + 64 * sizeof(float));
    size_t held = scope_depth_objects();
    tensor_release(a); /* frees it now, and scope_end must not free it again */
    ck_assert_uint_eq(scope_depth_objects(), held - 1);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    scope_end(s);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    tensor_release(NULL);
    tensor_retain(NULL);
    END;
}
END_TEST

/*
 * A view (tensor_make_view) retains the storage: releasing the tensor it came from
 * (whose header lives in the storage's block) keeps the block until the view goes.
 */
START_TEST(test_tensor_view_outlives_base)
{
    BEGIN;
    scope_end(scope_); /* no scope: this test owns every reference itself */
    StrataMemStats m0 = strata_mem_stats();
    Tensor *base = tensor_new(SHAPE(2, 3), 2, "test");
    ck_assert_msg(base != NULL, "tensor_new failed: %s", strata_last_error());
    ck_assert_int_eq(base->base.refcount, 1);
    for (int k = 0; k < 6; k++)
        base->data[k] = (float)(k + 1);
    /* column 1 as a [2] view: offset 1, stride 3 -> elements 2 and 5 */
    Tensor *view = tensor_make_view(base, SHAPE(2), SHAPE(3), 1, 1);
    ck_assert_msg(view != NULL, "tensor_make_view failed: %s", strata_last_error());
    ck_assert_ptr_eq(view->storage, base->storage);
    tensor_retain(base);
    ck_assert_int_eq(base->base.refcount, 2);
    tensor_release(base);
    tensor_release(base); /* the base is gone; its storage is not */
    ck_assert(view->data[0] == 2.0f && view->data[3] == 5.0f);
    ck_assert_uint_gt(strata_mem_stats().bytes_live, m0.bytes_live);
    tensor_release(view);
    ck_assert_uint_eq(strata_mem_stats().bytes_live, m0.bytes_live);
    scope_ = scope_begin();
    END;
}
END_TEST

void add_object_scope_tests(Suite *s)
{
    GRADED(s, test_object_refcount, 1);
    GRADED(s, test_scope_collects, 1);
    GRADED(s, test_scope_retained_survive, 1);
    GRADED(s, test_scope_release_inside, 1);
    GRADED(s, test_scope_nested, 1);
    GRADED(s, test_tensor_release_in_scope, 1);
    GRADED(s, test_tensor_view_outlives_base, 1);
}
