/*
 * tensor_math.h - exp, tanh and erf for float32 written as plain arithmetic, so the
 * compiler can vectorize loops that call them (libm's expf/tanhf/erff are opaque calls
 * it cannot vectorize without -ffast-math). Private to tensor/, never installed.
 *
 * Accuracy: within about 2 ulp of the correctly rounded result over the float range
 * (checked against the double-precision libm functions); NaN propagates, and the limits
 * (exp(-inf) = 0, exp(inf) = inf, tanh(+-inf) = +-1, erf(+-inf) = +-1) are exact.
 *
 * exp: x = n ln2 + r with |r| <= ln2 / 2; e^r from a degree-7 polynomial (Cephes'
 * expf coefficients) and 2^n put straight into the exponent bits.
 */
#ifndef STRATA_TENSOR_MATH_H
#define STRATA_TENSOR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 2^n for an integer-valued n in [-126, 127], built from its exponent bits. */
static inline float math_pow2i(float n)
{
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float math_expf(float x)
{
    /* Beyond these the result is inf or below the smallest denormal. */
    const float max_x = 88.72283935546875f, min_x = -103.972084045410f;
    float xc = x > max_x ? max_x : (x < min_x ? min_x : x); /* NaN passes through */
    /* n = round(x / ln2): adding 1.5 * 2^23 rounds to an integer in float arithmetic. */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    /* A NaN n would reach math_pow2i's float-to-int conversion, which is undefined
     * behaviour (UBSan): use 0 there; r = xc - 0 stays NaN, and so does y. */
    n = n == n ? n : 0.0f;
    /* r = x - n ln2, with ln2 split in two so the product is exact. */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* 2^n in two halves: n reaches -150 (denormal results) and 128, past one exponent. */
    float n1 = (n * 0.5f + 12582912.0f) - 12582912.0f;
    float y = p * math_pow2i(n1) * math_pow2i(n - n1);
    y = x > max_x ? (float)INFINITY : y;
    return x < min_x ? 0.0f : y;
}

/*
 * tanh: for |x| < 0.625 an odd polynomial (Cephes' tanhf), where 1 - 2/(e^2x + 1)
 * would cancel; beyond, 1 - 2/(e^2|x| + 1) with the sign put back.
 */
static inline float math_tanhf(float x)
{
    float ax = x < 0 ? -x : x;
    float z = x * x;
    float small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    float big = 1.0f - 2.0f / (math_expf(2.0f * ax) + 1.0f);
    big = x < 0 ? -big : big;
    return ax < 0.625f ? small : big;
}

/*
 * erf: for |x| < 0.921875 an odd polynomial in x; beyond, 1 - e^(poly(|x|)) with the
 * sign put back (the form of N. Juffa's erff, coefficients fitted for float).
 */
static inline float math_erff(float x)
{
    float t = x < 0 ? -x : x;
    float s = x * x;
    float r = -5.96761703e-4f;
    r = r * s + 4.99119423e-3f;
    r = r * s - 2.67681349e-2f;
    r = r * s + 1.12819925e-1f;
    r = r * s - 3.76125336e-1f;
    r = r * s + 1.28379166e-1f;
    float small = r * x + x;
    float q = -1.72853470e-5f * t + 3.83197126e-4f;
    float u = -3.88396438e-3f * t + 2.42546219e-2f;
    q = q * s + u;
    q = q * t - 1.06777877e-1f;
    q = q * t - 6.34846687e-1f;
    q = q * t - 1.28717512e-1f;
    q = q * t - t;
    float big = 1.0f - math_expf(q);
    big = x < 0 ? -big : big;
    return t > 0.921875f ? big : small;
}

#endif /* STRATA_TENSOR_MATH_H */
