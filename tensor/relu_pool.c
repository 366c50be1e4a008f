/*
 * relu_pool.c - ReLU then 2x2 max pooling (stride 2) of one plane: the kernel both
 * fused.c (tensor_relu_max_pool2d, and the pooling of a convolution's steps) and
 * conv.c (the im2col convolution pooling straight from its matrix product) run. It
 * sits in a file of its own, below both, because fused.c calls into conv.c: were the
 * kernel in fused.c, the two files would call each other.
 *
 * The values are tensor_relu then tensor_max_pool2d's, bit for bit: the window maximum
 * is taken over the ReLU'd values with pooling's own rule (tensor_max_2x2).
 */
#include "tensor_internal.h"

/* ReLU as tensor_relu computes it (NaN passes through, -0 stays -0). */
static inline float relu(float x) { return x < 0.0f ? 0.0f : x; }

/*
 * Outputs x0 .. x0+n-1 of one output row: each the maximum of its window's four
 * ReLU'd values, by max pooling's rule (a larger value or a NaN takes over, ties keep
 * the first), without branches, as tensor_max_pool2d's 2x2 loop does. With @p add,
 * each value is r + bias first: the float a convolution writes when it adds its bias.
 * Called with n a constant 8 or 4 and add a constant, so that after inlining the loop
 * has a fixed trip count and compiles to straight vector code with no scalar tail.
 */
static inline void relu_pool_block(const float *restrict r0, const float *restrict r1,
                                   const bool add, float bias, float row_at, float fw,
                                   int64_t x0, const int n, float *restrict out,
                                   float *restrict idx)
{
    /* The ReLU first, into two small arrays (in L1 cache): two simple loops rather than
     * one, because with the ReLU inside the max loop compilers no longer vectorize it. */
    float t0[16], t1[16];
#pragma omp simd
    for (int i = 0; i < 2 * n; i++) {
        t0[i] = relu(add ? r0[2 * x0 + i] + bias : r0[2 * x0 + i]);
        t1[i] = relu(add ? r1[2 * x0 + i] + bias : r1[2 * x0 + i]);
    }
#pragma omp simd
    for (int x = 0; x < n; x++) {
        float at = row_at + 2.0f * (float)(x0 + x); /* where r0[2 * x] is */
        out[x0 + x] = tensor_max_2x2(t0[2 * x], t0[2 * x + 1], t1[2 * x], t1[2 * x + 1], at,
                                     fw, &idx[x0 + x]);
    }
}

/*
 * One plane, an output row at a time. Rows are short (14 or 7 outputs in a small CNN):
 * a loop over a row would run mostly in its scalar tail. Blocks of 8 (or 4) instead,
 * the last one moved back to end at the row's end: it overlaps its neighbour, whose
 * outputs it writes again with the same values.
 */
void tensor_relu_max_pool_2x2_plane(const float *restrict plane, int64_t sh, int64_t W,
                                    int64_t oh, int64_t ow, const float *bias,
                                    float *restrict out, float *restrict idx)
{
    const float fw = (float)W;
    const int64_t n = ow >= 8 ? 8 : ow >= 4 ? 4 : 1;
    const bool add = bias != NULL;
    const float b = add ? *bias : 0.0f;
    for (int64_t y = 0; y < oh; y++) {
        const float *r0 = plane + 2 * y * sh, *r1 = r0 + sh;
        const float row_at = (float)(2 * y * W);
        float *o = out + y * ow, *ix = idx + y * ow;
        for (int64_t x0 = 0; x0 < ow; x0 += n) {
            int64_t at = x0 + n <= ow ? x0 : ow - n;
            /* each call with constants, so that each inlined copy is straight code */
            if (n == 8 && add)
                relu_pool_block(r0, r1, true, b, row_at, fw, at, 8, o, ix);
            else if (n == 8)
                relu_pool_block(r0, r1, false, b, row_at, fw, at, 8, o, ix);
            else if (n == 4 && add)
                relu_pool_block(r0, r1, true, b, row_at, fw, at, 4, o, ix);
            else if (n == 4)
                relu_pool_block(r0, r1, false, b, row_at, fw, at, 4, o, ix);
            else
                relu_pool_block(r0, r1, add, b, row_at, fw, at, 1, o, ix);
        }
    }
}
