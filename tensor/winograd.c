/*
 * winograd.c - 3x3 convolutions of stride 1 by Winograd's minimal filtering F(2x2, 3x3),
 * forward and backward. conv.c sends a convolution here when winograd_applies().
 *
 * im2col + GEMM (conv.c) spends 9 multiplies per input channel on every output value:
 * 36 for a 2x2 block of outputs. Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016) gets the same 2x2 block
 * from the 4x4 block of inputs it sees with 16 multiplies:
 *
 *     Y = A^T [ (G g G^T) (.) (B^T d B) ] A            ((.) is the elementwise product)
 *
 * d is the 4x4 input tile, g the 3x3 kernel, and B^T (4x4), G (4x3), A^T (2x4) are
 * constant matrices of 0, +-1 and 1/2 (G below; B^T and A^T written out as sums).
 * Summed over the input channels, the elementwise products become 16 matrix products,
 * one per position xi of the 4x4 tile:
 *
 *     M[xi] [C_out, tiles] = U[xi] [C_out, C_in] @ V[xi] [C_in, tiles]
 *
 * with U = G g G^T (the kernel transform, once per call) and V = B^T d B (the input
 * transform, once per tile and channel). The GEMMs do 16/36 = 1/2.25 of im2col's
 * multiplies; the transforms are only additions, cheap once C_in and C_out are large.
 *
 * The backward pass differentiates the same three linear steps:
 *     dM = A dY A^T                    per output tile (dY its 2x2 grad_output)
 *     dU[xi] = dM[xi] @ V[xi]^T        summed over tiles; grad_weight = G^T dU G
 *     dV[xi] = U[xi]^T @ dM[xi]        grad_input tile = B dV B^T, overlapping tiles added
 *
 * Tiles cover the output in 2x2 blocks. A tile that sticks out of the output (odd
 * sizes) or reads outside the input (padding) sees zeros there.
 *
 * Pooled tiles. A small CNN follows the convolution with ReLU and 2x2 max pooling of
 * stride 2 (tensor_conv2d_relu_max_pool2d), and those windows are exactly the tiles:
 * window (ty, tx) covers output rows 2ty, 2ty+1 and columns 2tx, 2tx+1, as tile
 * (ty, tx) does. (With an odd size, the last row or column of tiles is in no window.)
 * So the forward pass pools each tile as soon as A^T M A has made its four outputs,
 * and only the pooled value and its position leave: the convolution's output is never
 * written. Backward, the pooled gradient p of a window reaches one output only, the
 * position the window chose (i, j), and only if ReLU let the maximum through, so
 *
 *     dY = p e_i e_j^T        and        dM = A dY A^T = p (A e_i)(A e_j)^T,
 *
 * the outer product of two columns of A^T, scaled: the tile's dM comes from its one
 * pooled gradient and position, with no whole-size gradient scattered and read back.
 * (The code writes dY's four values and reuses the general dM step, so that every
 * +0 and -0 is the one the unfused ops make; the bias gradient is summed from the
 * same tiles in the unfused order.)
 *
 * The transforms are the same small sums for every image and channel, and a 14x14
 * plane has only 7 tiles across: too few for vector lanes. So a chunk's images sit side
 * by side: each plane is copied into a block [rows, columns, images] with a border of
 * zeros, and every transform loops over the images innermost, which the compiler turns
 * into vector instructions (`omp simd` tells it the lanes are independent: it cannot
 * prove that the block and the V or M planes do not overlap). A chunk's tiles are
 * numbered t = (ty * tw + tx) * b + n for image n of its b; any order suits the GEMMs
 * as long as every step uses the same.
 *
 * The whole file is the week-1 reference's speed-up; the week-1 handout cuts it.
 */
#include "tensor_internal.h"

#include <cblas.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* SOLUTION BEGIN week=1 step=12 tier=given */

/* G, the kernel transform's matrix. */
static const float WINO_G[4 * 3] = {
    1.0f, 0.0f, 0.0f, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0.0f, 0.0f, 1.0f,
};

/* Positions of a 4x4 tile: the 16 matrix products. */
#define XI 16

/*
 * Images per chunk, at most: the vector lanes of the transforms (16 fill AVX-512),
 * unless the chunk's V and M would pass WINOGRAD_CHUNK_BYTES (a few MB: each of the
 * 16 GEMMs then still reads and writes only 1/16 of it, which L2 holds).
 */
#define WINOGRAD_IMAGES 16
#define WINOGRAD_CHUNK_BYTES ((int64_t)8 << 20)

/* Fewest input and output channels for which the transforms cost less than they save. */
#define WINOGRAD_MIN_CHANNELS 16

bool winograd_applies(Window2d w, int64_t C_in, int64_t C_out)
{
    return w.kernel_h == 3 && w.kernel_w == 3 && w.stride_h == 1 && w.stride_w == 1 &&
           w.dilation_h == 1 && w.dilation_w == 1 && C_in >= WINOGRAD_MIN_CHANNELS &&
           C_out >= WINOGRAD_MIN_CHANNELS;
}

/* The geometry of one call, and how the batch is cut into chunks. */
typedef struct {
    const float *x;   /* input [N, C, H, W], contiguous */
    const float *u;   /* kernel transform [XI, O, C] */
    int64_t N, C, H, W, O, oh, ow, pad_h, pad_w;
    int64_t th, tw;   /* tiles down and across the output of one image */
    int64_t ph, pw;   /* a zero-bordered input plane: 2*th + 2 rows of 2*tw + 2 */
    int64_t images;   /* images per step, at most */
    int chunks;       /* chunks the batch is cut into (strata_parallel_for's) */
    int threads;      /* threads that run them (one scratch each) */
} Winograd;

static void winograd_plan(Winograd *p, const Tensor *input, int64_t O, Window2d w, int64_t oh,
                          int64_t ow)
{
    p->x = input->data;
    p->N = input->shape[0];
    p->C = input->shape[1];
    p->H = input->shape[2];
    p->W = input->shape[3];
    p->O = O;
    p->oh = oh;
    p->ow = ow;
    p->pad_h = w.padding_h;
    p->pad_w = w.padding_w;
    p->th = (oh + 1) / 2;
    p->tw = (ow + 1) / 2;
    p->ph = 2 * p->th + 2;
    p->pw = 2 * p->tw + 2;
    int64_t per_image = XI * (p->C + O) * p->th * p->tw * (int64_t)sizeof(float);
    int64_t B = WINOGRAD_CHUNK_BYTES / per_image;
    B = B < 1 ? 1 : B > WINOGRAD_IMAGES ? WINOGRAD_IMAGES : B;
    p->chunks = strata_parallel_chunks(p->N, 1);
    p->threads = strata_parallel_threads(p->N, 1);
    int64_t share = (p->N + p->chunks - 1) / p->chunks;
    p->images = B > share ? share : B;
}

/* Tiles in one chunk, at most. */
static int64_t chunk_tiles(const Winograd *p)
{
    return p->images * p->th * p->tw;
}

/* Floats of one thread's scratch: V, M, and a block of one plane per image of a chunk. */
static int64_t thread_scratch(const Winograd *p)
{
    return XI * (p->C + p->O) * chunk_tiles(p) + p->ph * p->pw * p->images;
}

/* The backward's per thread: V (then dV), every channel's output gradient dY as blocks
 * [O, 2*th, 2*tw, images] (or a pooled gradient's s and w, half of that), four planes
 * of dM [4, O, T], and a block of one plane per image. */
static int64_t backward_scratch(const Winograd *p)
{
    return (XI * p->C + 8 * p->O) * chunk_tiles(p) + p->ph * p->pw * p->images;
}

/* The forward's, with a sink: also the step's output [images, O, oh, ow], or for a
 * pooling sink (ConvSink.pooled) one channel's pooled values and positions. */
static int64_t forward_scratch(const Winograd *p, const ConvSink *sink)
{
    int64_t pooled = 2 * (p->oh / 2) * (p->ow / 2) * p->images;
    return thread_scratch(p) +
           (!sink ? 0 : sink->pooled ? pooled : p->images * p->O * p->oh * p->ow);
}

/* Kernels transformed side by side (vector lanes), as the input transform does images. */
#define KERNEL_LANES 16

/*
 * out (r x r) = L X L^T, with L r x k and X k x k (the form of the kernel transforms),
 * for @p n <= KERNEL_LANES kernels side by side: X [k*k][lanes], out [r*r][lanes].
 * Each sum starts at 0 and adds its k products in order, as a plain matrix product.
 */
static void sandwich(const float *L, int r, int k, float X[][KERNEL_LANES],
                     float out[][KERNEL_LANES], int n)
{
    float LX[4 * 4][KERNEL_LANES]; /* L X */
    for (int i = 0; i < r; i++)
        for (int j = 0; j < k; j++)
#pragma omp simd
            for (int l = 0; l < n; l++) {
                float s = 0;
                for (int m = 0; m < k; m++)
                    s += L[i * k + m] * X[m * k + j][l];
                LX[i * k + j][l] = s;
            }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
#pragma omp simd
            for (int l = 0; l < n; l++) {
                float s = 0;
                for (int m = 0; m < k; m++) /* L^T: element (m, j) is L[j * k + m] */
                    s += LX[i * k + m][l] * L[j * k + m];
                out[i * r + j][l] = s;
            }
}

/* U[xi, o, c] = (G g G^T)[xi] for every kernel g = weight[o, c] (contiguous [O, C, 3, 3]). */
static void kernel_transform(const float *weight, int64_t O, int64_t C, float *u)
{
    for (int64_t oc0 = 0; oc0 < O * C; oc0 += KERNEL_LANES) {
        int n = O * C - oc0 < KERNEL_LANES ? (int)(O * C - oc0) : KERNEL_LANES;
        float g[9][KERNEL_LANES], t[XI][KERNEL_LANES];
        for (int l = 0; l < n; l++)
            for (int k = 0; k < 9; k++)
                g[k][l] = weight[(oc0 + l) * 9 + k];
        sandwich(WINO_G, 4, 3, g, t, n);
        for (int xi = 0; xi < XI; xi++)
            for (int l = 0; l < n; l++)
                u[xi * O * C + oc0 + l] = t[xi][l];
    }
}

/* grad_weight[o, c] = G^T dU[:, o, c] G: the kernel transform's adjoint. */
static void kernel_transform_backward(const float *du, int64_t O, int64_t C, float *grad_weight)
{
    float Gt[3 * 4]; /* G^T */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            Gt[i * 4 + j] = WINO_G[j * 3 + i];
    for (int64_t oc0 = 0; oc0 < O * C; oc0 += KERNEL_LANES) {
        int n = O * C - oc0 < KERNEL_LANES ? (int)(O * C - oc0) : KERNEL_LANES;
        float d[XI][KERNEL_LANES], t[9][KERNEL_LANES];
        for (int xi = 0; xi < XI; xi++)
            for (int l = 0; l < n; l++)
                d[xi][l] = du[xi * O * C + oc0 + l];
        sandwich(Gt, 3, 4, d, t, n);
        for (int l = 0; l < n; l++)
            for (int k = 0; k < 9; k++)
                grad_weight[(oc0 + l) * 9 + k] = t[k][l];
    }
}

/*
 * dst[k * ds + j] = src[j * ss + k] for j < rows and k < cols, both at most 16: a block
 * of at most 16 x 16 floats transposed. The transforms keep a chunk's images side by
 * side (the vector lanes), tensors keep each image's plane whole: the pooled values
 * and the input gradient leave the chunk through this transpose. Float by float, each
 * image's run is a string of single stores, and one plane's partly written lines wait
 * while fifteen other images' planes are written (measured on Zen 4: the pooled
 * values' copy took as long as their pooling). With AVX-512 the block is 16 vector
 * loads, 64 shuffles in registers and 16 vector stores, masks cutting the rows and
 * columns past the block. The floats are only moved: the same bits either way. (The
 * way in, the lanes' loads from 16 images, gains nothing from it: not used there.)
 */
static inline void transpose_block(const float *restrict src, int64_t ss, int rows, int cols,
                                   float *restrict dst, int64_t ds)
{
#if defined(__AVX512F__)
    const __mmask16 cm = (__mmask16)((1u << cols) - 1), rm = (__mmask16)((1u << rows) - 1);
    __m512 r[16], t[16];
    for (int j = 0; j < 16; j++)
        r[j] = j < rows ? _mm512_maskz_loadu_ps(cm, src + j * ss) : _mm512_setzero_ps();
    /* the classic four steps: pairs of rows interleaved by 1, 2, 4 and 8 floats */
    for (int j = 0; j < 16; j += 2) {
        t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 16; j += 4) {
        r[j] = _mm512_shuffle_ps(t[j], t[j + 2], 0x44);
        r[j + 1] = _mm512_shuffle_ps(t[j], t[j + 2], 0xee);
        r[j + 2] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        r[j + 3] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0xee);
    }
    for (int j = 0; j < 16; j += 8)
        for (int i = 0; i < 4; i++) {
            t[j + i] = _mm512_shuffle_f32x4(r[j + i], r[j + i + 4], 0x88);
            t[j + i + 4] = _mm512_shuffle_f32x4(r[j + i], r[j + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
    for (int k = 0; k < cols; k++)
        _mm512_mask_storeu_ps(dst + k * ds, rm, r[k]);
#else
    for (int k = 0; k < cols; k++)
        for (int j = 0; j < rows; j++)
            dst[k * ds + j] = src[j * ss + k];
#endif
}

/*
 * Plane c of the chunk's b images into the inside of block [ph, pw, b], whose border
 * the caller has zeroed:
 * block[(r * pw + col) * b + n] = x[n0 + n, c, r - pad_h, col - pad_w].
 */
static void gather_input(const Winograd *p, int64_t n0, int64_t b, int64_t c, float *block)
{
    const float *src = p->x + (n0 * p->C + c) * p->H * p->W; /* image n: n * image on */
    const int64_t image = p->C * p->H * p->W;
    for (int64_t r = 0; r < p->H; r++)
        for (int64_t col = 0; col < p->W; col++) {
            float *dst = block + ((r + p->pad_h) * p->pw + col + p->pad_w) * b;
            const float *at = src + r * p->W + col;
#pragma omp simd
            for (int64_t n = 0; n < b; n++)
                dst[n] = at[n * image];
        }
}

/*
 * V = B^T d B for every tile d of a gathered plane (block [ph, pw, b]) into v, the
 * plane's V[0] row, the XI planes @p stride apart. B^T's rows (1 0 -1 0), (0 1 1 0),
 * (0 -1 1 0), (0 1 0 -1) mix the tile's four rows into e, then its four columns.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void input_transform_lanes(const Winograd *p, const float *block, const int64_t b,
                                         float *v, int64_t stride)
{
    int64_t row = p->pw * b; /* floats from one block row to the next */
    for (int64_t ty = 0; ty < p->th; ty++)
        for (int64_t tx = 0; tx < p->tw; tx++) {
            const float *d = block + (2 * ty * p->pw + 2 * tx) * b;
            float *vt = v + (ty * p->tw + tx) * b;
#pragma omp simd
            for (int64_t n = 0; n < b; n++) {
                float e[4][4];
                for (int j = 0; j < 4; j++) {
                    float d0 = d[j * b + n], d1 = d[row + j * b + n];
                    float d2 = d[2 * row + j * b + n], d3 = d[3 * row + j * b + n];
                    e[0][j] = d0 - d2;
                    e[1][j] = d1 + d2;
                    e[2][j] = d2 - d1;
                    e[3][j] = d1 - d3;
                }
                for (int i = 0; i < 4; i++) {
                    vt[(4 * i) * stride + n] = e[i][0] - e[i][2];
                    vt[(4 * i + 1) * stride + n] = e[i][1] + e[i][2];
                    vt[(4 * i + 2) * stride + n] = e[i][2] - e[i][1];
                    vt[(4 * i + 3) * stride + n] = e[i][1] - e[i][3];
                }
            }
        }
}

/* input_transform_lanes for @p b images. */
static void input_transform(const Winograd *p, const float *block, int64_t b, float *v,
                            int64_t stride)
{
    /* A full chunk's b is a constant: the lanes are one vector, and every offset into
     * the block and V is fixed (with b in a register, compilers keep a pointer per
     * offset, spill them, and the loop slows by a third). */
    if (b == WINOGRAD_IMAGES)
        input_transform_lanes(p, block, WINOGRAD_IMAGES, v, stride);
    else
        input_transform_lanes(p, block, b, v, stride);
}

/* V for every channel of images n0 .. n0+b-1: [XI, C, T] with T = b*th*tw tiles. */
static void input_transform_chunk(const Winograd *p, int64_t n0, int64_t b, float *v,
                                  float *block)
{
    int64_t T = b * p->th * p->tw;
    /* the border, once: each channel's gather writes the same inside */
    memset(block, 0, (size_t)(p->ph * p->pw * b) * sizeof(float));
    for (int64_t c = 0; c < p->C; c++) {
        gather_input(p, n0, b, c, block);
        input_transform(p, block, b, v + c * T, p->C * T);
    }
}

/* Image n's four outputs of one tile, Y = A^T m A with A^T's rows (1 1 1 0) and
 * (0 1 -1 -1), in the order (0, 0), (0, 1), (1, 0), (1, 1); mt is the tile's entry in
 * M[0], the sixteen M planes @p stride apart. Always inlined: it is the body of vector
 * loops over n, which compilers vectorize only once it is inside them. */
typedef struct TileOutputs {
    float v[4];
} TileOutputs;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline TileOutputs tile_outputs(const float *mt, int64_t stride, int64_t n)
{
    float s0[4], s1[4];
    for (int j = 0; j < 4; j++) {
        float m0 = mt[j * stride + n], m1 = mt[(4 + j) * stride + n];
        float m2 = mt[(8 + j) * stride + n], m3 = mt[(12 + j) * stride + n];
        s0[j] = m0 + m1 + m2;
        s1[j] = m1 - m2 - m3;
    }
    TileOutputs t = {{s0[0] + s0[1] + s0[2], s0[1] - s0[2] - s0[3], s1[0] + s1[1] + s1[2],
                      s1[1] - s1[2] - s1[3]}};
    return t;
}

/*
 * Y = A^T m A for every tile of output channel o (m: its M[0] row, the XI planes
 * @p stride apart), A^T's rows (1 1 1 0) and (0 1 -1 -1), into block [2*th, 2*tw, b].
 */
static void output_transform(const Winograd *p, const float *m, int64_t stride, int64_t b,
                             float *block)
{
    int64_t row = 2 * p->tw * b;
    for (int64_t ty = 0; ty < p->th; ty++)
        for (int64_t tx = 0; tx < p->tw; tx++) {
            const float *mt = m + (ty * p->tw + tx) * b;
            float *y = block + 2 * ty * row + 2 * tx * b;
#pragma omp simd
            for (int64_t n = 0; n < b; n++) {
                TileOutputs t = tile_outputs(mt, stride, n);
                y[n] = t.v[0];
                y[b + n] = t.v[1];
                y[row + n] = t.v[2];
                y[row + b + n] = t.v[3];
            }
        }
}

/* ReLU as tensor_relu computes it (NaN passes through, -0 stays -0). */
static inline float relu(float x) { return x < 0.0f ? 0.0f : x; }

/*
 * output_transform for the tiles that are pooling windows, pooled on the spot: each
 * tile's four outputs for the b images, plus the bias (the sum scatter_output makes),
 * ReLU'd, into a small array y (in L1 cache), and then the tile's maximum by max
 * pooling's rule (tensor_max_2x2) into best [poh, pow, b], its flat position in the
 * oh x ow plane into where [poh, pow, b]. The floats are those of the convolution,
 * ReLU and pooling one after the other (the same sums in the same order), and no
 * output block is written and read back. Two loops per tile rather than one: with
 * the ReLU inside the max loop, compilers no longer vectorize it. Tiles past the
 * windows (odd sizes) are not made: nothing pooled needs them.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void output_pool_lanes(const Winograd *p, const float *m, int64_t stride,
                                     const int64_t b, float bias, float *best,
                                     float *where)
{
    int64_t poh = p->oh / 2, pow = p->ow / 2;
    const float fw = (float)p->ow;
    float y[4][WINOGRAD_IMAGES]; /* the tile's outputs (0, 0), (0, 1), (1, 0), (1, 1) */
    for (int64_t ty = 0; ty < poh; ty++)
        for (int64_t tx = 0; tx < pow; tx++) {
            const float *mt = m + (ty * p->tw + tx) * b;
#pragma omp simd
            for (int64_t n = 0; n < b; n++) {
                TileOutputs t = tile_outputs(mt, stride, n);
                y[0][n] = relu(t.v[0] + bias);
                y[1][n] = relu(t.v[1] + bias);
                y[2][n] = relu(t.v[2] + bias);
                y[3][n] = relu(t.v[3] + bias);
            }
            float *bt = best + (ty * pow + tx) * b, *wt = where + (ty * pow + tx) * b;
            const float at = (float)(2 * ty * p->ow + 2 * tx); /* the tile's top left */
#pragma omp simd
            for (int64_t n = 0; n < b; n++)
                bt[n] = tensor_max_2x2(y[0][n], y[1][n], y[2][n], y[3][n], at, fw, &wt[n]);
        }
}

/* output_pool_lanes, with b a constant for a full chunk (see input_transform). */
static void output_pool_tiles(const Winograd *p, const float *m, int64_t stride, int64_t b,
                              float bias, float *best, float *where)
{
    if (b == WINOGRAD_IMAGES)
        output_pool_lanes(p, m, stride, WINOGRAD_IMAGES, bias, best, where);
    else
        output_pool_lanes(p, m, stride, b, bias, best, where);
}

/* Blocks best and where [poh, pow, b] into plane o of each image n0 + n in pooled and
 * indices ([N, O, poh, pow]). */
static void scatter_pooled(const Winograd *p, const float *best, const float *where,
                           int64_t n0, int64_t b, int64_t o, float *pooled, float *indices)
{
    int64_t P = (p->oh / 2) * (p->ow / 2), at = (n0 * p->O + o) * P, image = p->O * P;
    for (int64_t i = 0; i < P; i += 16) { /* blocks [16 windows, b] transposed */
        int rows = (int)(P - i < 16 ? P - i : 16);
        transpose_block(best + i * b, b, rows, (int)b, pooled + at + i, image);
        transpose_block(where + i * b, b, rows, (int)b, indices + at + i, image);
    }
}

/* Block [2*th, 2*tw, b] (its inside) plus the bias into out[n, o] for each image n of
 * the step (out: the step's first image). */
static void scatter_output(const Winograd *p, const float *block, int64_t b, int64_t o,
                           float bias, float *out)
{
    for (int64_t n = 0; n < b; n++) {
        float *dst = out + (n * p->O + o) * p->oh * p->ow;
        for (int64_t r = 0; r < p->oh; r++)
            for (int64_t col = 0; col < p->ow; col++)
                dst[r * p->ow + col] = block[(r * 2 * p->tw + col) * b + n] + bias;
    }
}

/*
 * Plane o of grad_output (g: [N, O, oh, ow]) for the chunk's images into block
 * [2*th, 2*tw, b], with zeros past the planes' edges.
 */
static void gather_grad_output(const Winograd *p, const float *g, int64_t n0, int64_t b,
                               int64_t o, float *block)
{
    memset(block, 0, (size_t)(4 * p->th * p->tw * b) * sizeof(float));
    for (int64_t n = 0; n < b; n++) {
        const float *src = g + ((n0 + n) * p->O + o) * p->oh * p->ow;
        for (int64_t r = 0; r < p->oh; r++)
            for (int64_t col = 0; col < p->ow; col++)
                block[(r * 2 * p->tw + col) * b + n] = src[r * p->ow + col];
    }
}

/* The gradient of a convolution's output as ReLU and 2x2 max pooling send it back: for
 * each window, its pooled gradient, its chosen position and its pooled value (the
 * mask), [N, O, oh/2, ow/2] each. */
typedef struct {
    const float *grad, *indices, *pooled;
} PooledGrad;

/*
 * Row i of dM = A dY A^T (planes 4i .. 4i+3) for one tile of image n, its gradient
 * dY = (y00 y01; y10 y11), into mt (the tile's entry in the first of the four planes,
 * @p stride apart). A's columns (1 1 1 0) and (0 1 -1 -1) send a pair (u, v) to (u,
 * u + v, u - v, -v): down the rows to u (from y00, y10) and v (from y01, y11), then
 * across. Called with a constant i, so that after inlining only row i's sums are left.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void tile_grad_row(float y00, float y01, float y10, float y11, const int i,
                                 float *mt, int64_t stride, int64_t n)
{
    float u[4] = {y00, y00 + y10, y00 - y10, -y10};
    float v[4] = {y01, y01 + y11, y01 - y11, -y11};
    mt[n] = u[i];
    mt[stride + n] = u[i] + v[i];
    mt[2 * stride + n] = u[i] - v[i];
    mt[3 * stride + n] = -v[i];
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void grad_row_tiles(const Winograd *p, const float *dy, const bool pooled,
                                  const int64_t b, int64_t T, const int i, float *dm)
{
    int64_t row = 2 * p->tw * b;
    const float fw = (float)p->ow;
    for (int64_t o = 0; o < p->O; o++)
        for (int64_t ty = 0; ty < p->th; ty++)
            for (int64_t tx = 0; tx < p->tw; tx++) {
                float *mt = dm + o * T + (ty * p->tw + tx) * b;
                if (pooled) { /* the tile's four gradients from its window (s, w) */
                    const float *s = dy + o * T + (ty * p->tw + tx) * b, *w = s + p->O * T;
                    const float at = (float)(2 * ty * p->ow + 2 * tx); /* its top left */
#pragma omp simd
                    for (int64_t n = 0; n < b; n++)
                        tile_grad_row(w[n] == at ? s[n] : 0.0f,
                                      w[n] == at + 1.0f ? s[n] : 0.0f,
                                      w[n] == at + fw ? s[n] : 0.0f,
                                      w[n] == at + fw + 1.0f ? s[n] : 0.0f, i, mt, p->O * T,
                                      n);
                    continue;
                }
                const float *d = dy + o * 4 * T + 2 * ty * row + 2 * tx * b;
#pragma omp simd
                for (int64_t n = 0; n < b; n++)
                    tile_grad_row(d[n], d[b + n], d[row + n], d[row + b + n], i, mt,
                                  p->O * T, n);
            }
}

/*
 * Planes 4i .. 4i+3 of dM ([4, O, T]) for the step's T tiles from every channel's
 * gradient block dy ([O, 2*th, 2*tw, b]), or when @p pooled from the windows' pooled
 * gradients and positions (pooled_grad_transform's s and w). Four planes at a time,
 * just before their GEMMs read them: the whole dM, 16 planes of O x T (3.2 MB for 64
 * channels and 16 images of 14x14), was written out of cache and read back by the 32
 * GEMMs; four planes are a quarter of that, and so is dy, which is read four times
 * instead. Each float is the same sum as before (one tile's u and v, then row i of the
 * tile), so the same bits. A full chunk's b goes in as a constant (see input_transform).
 */
static void grad_row(const Winograd *p, const float *dy, bool pooled, int64_t b, int64_t T,
                     int i, float *dm)
{
    const int64_t B = WINOGRAD_IMAGES; /* a full chunk: see input_transform */
    switch (i + 4 * pooled + 8 * (b == B)) {
    case 0: grad_row_tiles(p, dy, false, b, T, 0, dm); break;
    case 1: grad_row_tiles(p, dy, false, b, T, 1, dm); break;
    case 2: grad_row_tiles(p, dy, false, b, T, 2, dm); break;
    case 3: grad_row_tiles(p, dy, false, b, T, 3, dm); break;
    case 4: grad_row_tiles(p, dy, true, b, T, 0, dm); break;
    case 5: grad_row_tiles(p, dy, true, b, T, 1, dm); break;
    case 6: grad_row_tiles(p, dy, true, b, T, 2, dm); break;
    case 7: grad_row_tiles(p, dy, true, b, T, 3, dm); break;
    case 8: grad_row_tiles(p, dy, false, B, T, 0, dm); break;
    case 9: grad_row_tiles(p, dy, false, B, T, 1, dm); break;
    case 10: grad_row_tiles(p, dy, false, B, T, 2, dm); break;
    case 11: grad_row_tiles(p, dy, false, B, T, 3, dm); break;
    case 12: grad_row_tiles(p, dy, true, B, T, 0, dm); break;
    case 13: grad_row_tiles(p, dy, true, B, T, 1, dm); break;
    case 14: grad_row_tiles(p, dy, true, B, T, 2, dm); break;
    default: grad_row_tiles(p, dy, true, B, T, 3, dm); break;
    }
}

/*
 * Plane o's tiles from a pooled gradient instead of a whole one. A tile is a pooling
 * window, so its four gradients are the window's pooled gradient at the chosen
 * position and +0 at the other three: what tensor_relu_max_pool2d_backward writes
 * there, bit for bit. Its scatter adds to +0, so the chosen position holds +0 + g (a
 * -0 gradient becomes +0), and +0 when ReLU stopped it (a pooled value not positive).
 * Rather than the four floats, the tile keeps two, s (that +0 + g) and w (the chosen
 * position), [tiles, b] each, and the steps that read it (grad_row, bias_grad) make
 * the four, y = (w == position ? s : +0): half the floats to write and read back.
 * Tiles that are no window (past an odd size) get s = 0, w = -1 (no position): four
 * zeros. The loop runs across the images, as vector instructions without branches (a
 * branch on the mask would be a coin toss), reading each image's window a plane apart.
 * Returns false when an index does not lie in its own window (s and w then hold
 * garbage).
 */
static bool pooled_grad_transform(const Winograd *p, const PooledGrad *pg, int64_t n0,
                                  int64_t b, int64_t o, float *s, float *w)
{
    int64_t poh = p->oh / 2, pow = p->ow / 2, P = poh * pow;
    int64_t first = (n0 * p->O + o) * P, image = p->O * P; /* image n's plane: n * image */
    const float *gs = pg->grad + first, *ws = pg->indices + first, *ms = pg->pooled + first;
    const float fw = (float)p->ow;
    int outside = 0; /* windows whose index is none of their four positions */
    for (int64_t ty = 0; ty < p->th; ty++)
        for (int64_t tx = 0; tx < p->tw; tx++) {
            float *st = s + (ty * p->tw + tx) * b, *wt = w + (ty * p->tw + tx) * b;
            if (ty >= poh || tx >= pow) { /* a tile past the windows: zeros */
#pragma omp simd
                for (int64_t n = 0; n < b; n++) {
                    st[n] = 0.0f;
                    wt[n] = -1.0f;
                }
                continue;
            }
            int64_t i = ty * pow + tx;
            const float at = (float)(2 * ty * p->ow + 2 * tx); /* the tile's top left */
#pragma omp simd reduction(+ : outside)
            for (int64_t n = 0; n < b; n++) {
                float v = ws[n * image + i], g = gs[n * image + i];
                st[n] = 0.0f + (ms[n * image + i] <= 0.0f ? 0.0f : g);
                wt[n] = v;
                outside += !((v == at) | (v == at + 1.0f) | (v == at + fw) |
                             (v == at + fw + 1.0f));
            }
        }
    return outside == 0;
}

/*
 * The bias gradient of plane o's tiles (pooled_grad_transform's s and w, [tiles, b]
 * each): each image's output gradient summed into *sum as tensor_conv2d_backward sums
 * it (conv.c's row_sum over the L = oh*ow floats of the plane, the same bits): eight
 * float lanes, lane j adding positions j, j + 8, ... below L rounded down to 8, in
 * order; then the lanes and the last positions, in order, in double. Position i's
 * float is made as grad_row makes it, from its tile: s where w names i, else +0. Here
 * the lanes of all b images are added side by side, which vectorizes.
 */
static void bias_grad(const Winograd *p, const float *s, const float *w, int64_t b,
                      double *sum)
{
    int64_t L = p->oh * p->ow, L8 = L / 8 * 8;
    float lane[8][WINOGRAD_IMAGES] = {{0}}, last[8][WINOGRAD_IMAGES];
    /* position i is (r, c) of the plane, in tile (r/2, c/2): stepped along */
    for (int64_t i = 0, r = 0, c = 0; i < L; i++) {
        const float *st = s + ((r / 2) * p->tw + c / 2) * b, *wt = w + (st - s);
        const float at = (float)i;
        float *l = i < L8 ? lane[i % 8] : last[i - L8];
        if (i < L8) {
#pragma omp simd
            for (int64_t n = 0; n < b; n++)
                l[n] += wt[n] == at ? st[n] : 0.0f;
        } else {
            for (int64_t n = 0; n < b; n++)
                l[n] = wt[n] == at ? st[n] : 0.0f;
        }
        if (++c == p->ow) {
            c = 0;
            r++;
        }
    }
    for (int64_t n = 0; n < b; n++) {
        double sn = 0;
        for (int j = 0; j < 8; j++)
            sn += lane[j][n];
        for (int64_t i = L8; i < L; i++)
            sn += last[i - L8][n];
        *sum += sn;
    }
}

/*
 * grad_input of channel c of the chunk's images from its dV (dv: its V[0] row, the XI
 * planes @p stride apart): each tile's B dV B^T is added into block [ph, pw, b], then
 * the block's inside goes to grad_input[n0 + n, c]. B's rows are B^T's columns: a
 * four-vector (w0 w1 w2 w3) goes to (w0, w1 - w2 + w3, w1 + w2 - w0, -w3), down the
 * rows and then across. Neighbouring tiles overlap by two rows and columns: their
 * parts add up.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline void grad_input_lanes(const Winograd *p, const float *dv, int64_t stride,
                                 int64_t n0, const int64_t b, int64_t c, float *block,
                                 float *grad_input)
{
    int64_t row = p->pw * b;
    memset(block, 0, (size_t)(p->ph * row) * sizeof(float));
    for (int64_t ty = 0; ty < p->th; ty++)
        for (int64_t tx = 0; tx < p->tw; tx++) {
            const float *vt = dv + (ty * p->tw + tx) * b;
            float *d = block + 2 * ty * row + 2 * tx * b;
#pragma omp simd
            for (int64_t n = 0; n < b; n++) {
                float q[4][4];
                for (int j = 0; j < 4; j++) {
                    float w0 = vt[j * stride + n], w1 = vt[(4 + j) * stride + n];
                    float w2 = vt[(8 + j) * stride + n], w3 = vt[(12 + j) * stride + n];
                    q[0][j] = w0;
                    q[1][j] = w1 - w2 + w3;
                    q[2][j] = w1 + w2 - w0;
                    q[3][j] = -w3;
                }
                for (int r = 0; r < 4; r++) {
                    d[r * row + n] += q[r][0];
                    d[r * row + b + n] += q[r][1] - q[r][2] + q[r][3];
                    d[r * row + 2 * b + n] += q[r][1] + q[r][2] - q[r][0];
                    d[r * row + 3 * b + n] += -q[r][3];
                }
            }
        }
    /* the block's inside, a row [W, b] at a time transposed into the b images' rows */
    float *dst = grad_input + (n0 * p->C + c) * p->H * p->W;
    for (int64_t r = 0; r < p->H; r++)
        for (int64_t col = 0; col < p->W; col += 16)
            transpose_block(block + ((r + p->pad_h) * p->pw + col + p->pad_w) * b, b,
                            (int)(p->W - col < 16 ? p->W - col : 16), (int)b,
                            dst + r * p->W + col, p->C * p->H * p->W);
}

/* grad_input_lanes, with b a constant for a full chunk (see input_transform). */
static void grad_input_transform(const Winograd *p, const float *dv, int64_t stride,
                                 int64_t n0, int64_t b, int64_t c, float *block,
                                 float *grad_input)
{
    if (b == WINOGRAD_IMAGES)
        grad_input_lanes(p, dv, stride, n0, WINOGRAD_IMAGES, c, block, grad_input);
    else
        grad_input_lanes(p, dv, stride, n0, b, c, block, grad_input);
}

/* The 16 products of a chunk of T tiles: M[xi] = U[xi] @ V[xi]. */
static void products(const Winograd *p, const float *v, float *m, int64_t T)
{
    int64_t O = p->O, C = p->C;
    for (int xi = 0; xi < XI; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)O, (int)T, (int)C, 1.0f,
                    p->u + xi * O * C, (int)C, v + xi * C * T, (int)T, 0.0f, m + xi * O * T,
                    (int)T);
}

/* The forward loop's context. */
typedef struct {
    const Winograd *plan;
    const Tensor *bias;   /* [O] or NULL */
    float *scratch;       /* forward_scratch() floats per thread */
    float *out;           /* [N, O, oh, ow], or NULL: each step's output goes to the sink */
    const ConvSink *sink; /* or NULL */
} WinogradForward;

/*
 * Images [begin, end) of the forward pass on one thread, a step at a time. A pooling
 * sink (ConvSink.pooled) gets no step's output: each channel's tiles are pooled as
 * they are made (output_pool_tiles), and only the pooled values leave the thread's scratch.
 */
static void forward_images(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    const WinogradForward *f = ctx;
    (void)chunk;
    const Winograd *p = f->plan;
    const bool pool = f->sink && f->sink->pooled;
    int64_t TB = chunk_tiles(p), pooled_tiles = (p->oh / 2) * (p->ow / 2) * p->images;
    float *v = f->scratch + thread * forward_scratch(p, f->sink);
    float *m = v + XI * p->C * TB, *block = m + XI * p->O * TB;
    for (int64_t n0 = begin; n0 < end; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images, T = b * p->th * p->tw;
        /* the step's output: in the output tensor, or after the block for the sink
         * (a pooling sink's blocks best and where, pooled_tiles floats each) */
        float *out = f->out ? f->out + n0 * p->O * p->oh * p->ow
                            : block + p->ph * p->pw * p->images;
        input_transform_chunk(p, n0, b, v, block);
        products(p, v, m, T);
        for (int64_t o = 0; o < p->O; o++) {
            float bias = f->bias ? f->bias->data[o * f->bias->strides[0]] : 0.0f;
            if (pool) {
                output_pool_tiles(p, m + o * T, p->O * T, b, bias, out, out + pooled_tiles);
                scatter_pooled(p, out, out + pooled_tiles, n0, b, o, f->sink->pooled,
                               f->sink->indices);
            } else {
                output_transform(p, m + o * T, p->O * T, b, block);
                scatter_output(p, block, b, o, bias, out);
            }
        }
        if (f->sink && !pool)
            f->sink->fn(f->sink->ctx, n0, b, out, thread);
    }
}

/* The kernel transform of @p weight, in a new [XI, O, C] tensor (NULL on failure). */
static Tensor *transformed_kernel(const Tensor *weight)
{
    Tensor *wc = tensor_contiguous(weight);
    int64_t O = weight->shape[0], C = weight->shape[1];
    int64_t shape[3] = {XI, O, C};
    Tensor *u = wc ? tensor_new(shape, 3, "tensor_conv2d") : NULL;
    if (u)
        kernel_transform(wc->data, O, C, u->data);
    tensor_release(wc);
    return u;
}

int winograd_conv2d(const Tensor *input, const Tensor *weight, const Tensor *bias, Window2d w,
                    int64_t oh, int64_t ow, float *out, const ConvSink *sink)
{
    Tensor *x = tensor_contiguous(input), *u = x ? transformed_kernel(weight) : NULL;
    Winograd plan;
    int64_t scratch_shape[1] = {0};
    Tensor *scratch = NULL;
    if (u) {
        winograd_plan(&plan, x, weight->shape[0], w, oh, ow);
        plan.u = u->data;
        scratch_shape[0] = plan.threads * forward_scratch(&plan, sink);
        scratch = tensor_new(scratch_shape, 1, "tensor_conv2d");
    }
    if (scratch) {
        WinogradForward f = {&plan, bias, scratch->data, out, sink};
        strata_parallel_for(plan.N, 1, forward_images, &f);
    }
    int rc = scratch ? 0 : -1;
    tensor_release(scratch);
    tensor_release(u);
    tensor_release(x);
    return rc;
}

/* The backward loop's context. */
typedef struct {
    const Winograd *plan;
    const float *g;            /* grad_output [N, O, oh, ow], contiguous, or NULL: */
    const PooledGrad *pooled;  /* the pooled gradient it stands for */
    float *scratch;            /* per thread: backward_scratch() floats */
    float *du;                 /* per chunk: its dU sum [XI, O, C], or NULL */
    double *bias;              /* per chunk: its bias gradient sum [O], or NULL */
    float *grad_input;         /* [N, C, H, W], or NULL */
    bool outside[STRATA_MAX_THREADS]; /* per thread: met an index outside its window */
} WinogradBackward;

/*
 * Images [begin, end) of the backward pass on one thread, a step at a time:
 * dY from grad_output (or the pooled gradient, and then the bias gradient too); V
 * recomputed from the input; then per plane xi, dM[xi] from dY, dU[xi] += dM[xi] @
 * V[xi]^T into this chunk's sum and dV[xi] = U[xi]^T @ dM[xi]; dV added back into the
 * images' gradient planes. (Each GEMM is the one it was when all of dM was made first:
 * the same shapes, operands and sums.)
 */
static void backward_images(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    WinogradBackward *bw = ctx;
    const Winograd *p = bw->plan;
    int64_t O = p->O, C = p->C, TB = chunk_tiles(p);
    float *v = bw->scratch + thread * backward_scratch(p), *dy = v + XI * C * TB;
    float *dm = dy + 4 * O * TB, *block = dm + 4 * O * TB;
    float *du = bw->du ? bw->du + chunk * XI * O * C : NULL;
    double *bias = bw->bias ? bw->bias + chunk * O : NULL;
    for (int64_t n0 = begin; n0 < end && !bw->outside[thread]; n0 += p->images) {
        int64_t b = end - n0 < p->images ? end - n0 : p->images, T = b * p->th * p->tw;
        for (int64_t o = 0; o < O; o++) {
            /* channel o's dY: a block [2*th, 2*tw, b], or its windows' s and w (planes o
             * and O + o of [2, O, T]) */
            if (!bw->pooled) {
                gather_grad_output(p, bw->g, n0, b, o, dy + o * 4 * T);
            } else if (!pooled_grad_transform(p, bw->pooled, n0, b, o, dy + o * T,
                                              dy + (O + o) * T)) {
                bw->outside[thread] = true;
                return;
            } else if (bias) {
                bias_grad(p, dy + o * T, dy + (O + o) * T, b, &bias[o]);
            }
        }
        if (du)
            input_transform_chunk(p, n0, b, v, block);
        /* plane by plane: dM[xi], then dU[xi] += dM[xi] @ V[xi]^T, then dV[xi] = U[xi]^T
         * @ dM[xi] in V[xi]'s place (V[xi] is used up) */
        for (int xi = 0; xi < XI && (du || bw->grad_input); xi++) {
            const float *mx = dm + (xi % 4) * O * T;
            if (xi % 4 == 0)
                grad_row(p, dy, bw->pooled != NULL, b, T, xi / 4, dm);
            if (du)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)O, (int)C, (int)T,
                            1.0f, mx, (int)T, v + xi * C * T, (int)T, 1.0f, du + xi * O * C,
                            (int)C);
            if (bw->grad_input)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)T, (int)O,
                            1.0f, p->u + xi * O * C, (int)C, mx, (int)T, 0.0f, v + xi * C * T,
                            (int)T);
        }
        if (!bw->grad_input)
            continue;
        for (int64_t c = 0; c < C; c++)
            grad_input_transform(p, v + c * T, C * T, n0, b, c, block, bw->grad_input);
    }
}

/*
 * The backward pass from a whole grad_output (@p g) or from a pooled one (@p pg, which
 * adds the bias gradient, as tensor_conv2d_backward sums it: per chunk in double, the
 * chunks added in order). Returns 1 when done, 0 when an index of @p pg is outside
 * its window, -1 with an error naming @p fn when memory runs out.
 */
static int run_backward(const float *g, const PooledGrad *pg, const Tensor *input,
                    const Tensor *weight, Window2d w, int64_t oh, int64_t ow,
                    float *grad_input, float *grad_weight, float *grad_bias, const char *fn)
{
    Tensor *x = tensor_contiguous(input), *u = x ? transformed_kernel(weight) : NULL;
    Winograd plan;
    Tensor *scratch = NULL;
    float *du = NULL;
    double *bias = NULL;
    if (u) {
        winograd_plan(&plan, x, weight->shape[0], w, oh, ow);
        plan.u = u->data;
        int64_t per_thread = backward_scratch(&plan);
        int64_t scratch_shape[1] = {plan.threads * per_thread +
                                    (grad_weight ? plan.chunks * XI * plan.O * plan.C : 0)};
        scratch = tensor_new(scratch_shape, 1, fn);
        if (scratch && grad_weight) { /* each chunk's dU sum, after the threads' scratch */
            du = scratch->data + plan.threads * per_thread;
            memset(du, 0, (size_t)(plan.chunks * XI * plan.O * plan.C) * sizeof(float));
        }
        if (scratch && grad_bias) {
            bias = strata_calloc((size_t)plan.chunks * (size_t)plan.O, sizeof(double));
            if (!bias) {
                tensor_release(scratch);
                scratch = NULL;
            }
        }
    }
    int rc = scratch ? 1 : -1;
    if (scratch) {
        WinogradBackward bw = {&plan, g, pg, scratch->data, du, bias, grad_input, {0}};
        strata_parallel_for(plan.N, 1, backward_images, &bw);
        for (int t = 0; t < plan.threads; t++)
            if (bw.outside[t])
                rc = 0;
        /* Each chunk's sums, added in chunk order: the same result on every run. */
        int64_t n = XI * plan.O * plan.C;
        for (int c = 1; rc > 0 && du && c < plan.chunks; c++)
            for (int64_t i = 0; i < n; i++)
                du[i] += du[c * n + i];
        if (rc > 0 && du)
            kernel_transform_backward(du, plan.O, plan.C, grad_weight);
        for (int64_t o = 0; rc > 0 && bias && o < plan.O; o++) {
            double sum = 0;
            for (int c = 0; c < plan.chunks; c++)
                sum += bias[c * plan.O + o];
            grad_bias[o] = (float)sum;
        }
    }
    strata_free(bias);
    tensor_release(scratch);
    tensor_release(u);
    tensor_release(x);
    return rc;
}

int winograd_conv2d_backward(const float *grad_output, const Tensor *input,
                             const Tensor *weight, Window2d w, int64_t oh, int64_t ow,
                             float *grad_input, float *grad_weight)
{
    return run_backward(grad_output, NULL, input, weight, w, oh, ow, grad_input, grad_weight,
                    NULL, "tensor_conv2d_backward") < 0 ? -1 : 0;
}

/* SOLUTION END */

int winograd_conv2d_relu_max_pool2d_backward(const Tensor *grad_output, const Tensor *pooled,
                                             const Tensor *indices, const Tensor *input,
                                             const Tensor *weight, Window2d w, int64_t oh,
                                             int64_t ow, Tensor **grad_input,
                                             Tensor **grad_weight, Tensor **grad_bias)
{
    /* SOLUTION BEGIN week=1 step=12 tier=given fail=0 */
    if (input->shape[0] * weight->shape[0] * oh * ow == 0 ||
        !winograd_applies(w, input->shape[1], weight->shape[0]))
        return 0;
    const char *fn = "tensor_conv2d_relu_max_pool2d_backward";
    Tensor *g = tensor_contiguous(grad_output);
    Tensor *pc = g ? tensor_contiguous(pooled) : NULL;
    Tensor *ix = pc ? tensor_contiguous(indices) : NULL;
    int64_t bias_shape[1] = {weight->shape[0]};
    Tensor **outs[3] = {grad_input, grad_weight, grad_bias}, *t[3] = {NULL, NULL, NULL};
    bool made = ix != NULL;
    if (made && grad_input)
        made = (t[0] = tensor_new(input->shape, 4, fn)) != NULL;
    if (made && grad_weight)
        made = (t[1] = tensor_new(weight->shape, 4, fn)) != NULL;
    if (made && grad_bias)
        made = (t[2] = tensor_new(bias_shape, 1, fn)) != NULL;
    PooledGrad pg = {g ? g->data : NULL, ix ? ix->data : NULL, pc ? pc->data : NULL};
    int rc = !made ? -1
                   : run_backward(NULL, &pg, input, weight, w, oh, ow, t[0] ? t[0]->data : NULL,
                                  t[1] ? t[1]->data : NULL, t[2] ? t[2]->data : NULL, fn);
    for (int k = 0; k < 3; k++) {
        if (rc == 1 && outs[k])
            *outs[k] = t[k];
        else
            tensor_release(t[k]);
    }
    tensor_release(ix);
    tensor_release(pc);
    tensor_release(g);
    return rc;
    /* SOLUTION END */
}
