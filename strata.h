/**
 * @file strata.h
 * @brief The whole strata stack in one include: tensor, autograd, nn, optim, modular.
 *
 * Programs that use the finished stack include this one header and link the shared
 * library (or the five static ones, top first):
 *
 * @code
 * #include <strata.h>      // installed: cc app.c $(pkg-config --cflags --libs strata)
 *
 * int main(void)
 * {
 *     Scope *s = scope_begin();
 *     Tensor *x = tensor_ones((int64_t[]){2, 3}, 2);
 *     tensor_print(x);
 *     scope_end(s);
 *     return 0;
 * }
 * @endcode
 *
 * The layers, bottom first, each in its own @ref tensor "group":
 * - @ref tensor   (week 1) strided float32 tensors, errors, scopes, the allocator
 * - @ref autograd (week 2) Var and reverse-mode differentiation
 * - @ref nn       (week 3) Module, layers, losses, init, state dicts
 * - @ref optim    (week 4) optimizers, schedulers, data loading, training loops
 * - @ref modular  (week 5) the modular norm and dualized updates
 *
 * Inside the strata tree no layer includes this header: a layer may only include the
 * layers below it (see docs/conventions.md and `make layering-check`). The layer
 * headers are found by bare name, so compile with -I for each layer folder, or with
 * -I$(includedir)/strata where `make install` puts them all.
 *
 * All the headers are plain C11 and wrap their declarations in `extern "C"` for C++.
 */
#ifndef STRATA_H
#define STRATA_H

#include "tensor.h"
#include "autograd.h"
#include "nn.h"
#include "optim.h"
#include "modular.h"

#endif
