/*
 * week5.h - what the week-5 test files share: the registration functions and small
 * independent helpers (random matrices, norms computed without the code under test).
 */
#ifndef WEEK5_TESTS_H
#define WEEK5_TESTS_H

#include "modular.h"
#include "strata_test.h"

void add_orthogonalize_tests(Suite *s);
void add_atom_tests(Suite *s);
void add_compose_tests(Suite *s);
void add_train_tests(Suite *s);
void add_error_contract_tests(Suite *s);
void add_attention_tests(Suite *s);

/* A [rows, cols] standard normal matrix (scoped). */
Tensor *w5_randn(int64_t rows, int64_t cols);

/* Sum of a[i] * b[i] over all elements (contiguous tensors), in double. */
double w5_dot(const Tensor *a, const Tensor *b);

/* max |a[i]| over all elements (contiguous). */
double w5_max_abs(const Tensor *t);

/* Whether every element is finite. */
bool w5_all_finite(const Tensor *t);

/* The RMS->RMS operator norm of a Linear weight: sqrt(in/out) * sigma_max (LAPACK). */
double w5_linear_norm(const Tensor *w);

/* Min and max singular value of a 2-D tensor (LAPACK reference). */
void w5_sv_range(const Tensor *m, double *lo, double *hi);

/* max |M M^T - I| (wide or square) or |M^T M - I| (tall): distance from orthogonal. */
double w5_orth_error(const Tensor *m);

/* Fill a [n] list with tensors shaped like the module's weights: randn or zeros. */
void w5_like_weights(const ModularModule *m, Tensor **out, bool random);

#endif
