/*
 * Native convolution kernels for training on the wasm backend: forward, input gradient and filter
 * gradient of a 2-D NHWC convolution, each as im2col (or col2im) plus one BLAS sgemm.
 *
 * Why: wasm runs XNNPACK with 128-bit SIMD and no FMA (about 18 GFLOP/s per core here), and training
 * spends about three quarters of a step in convolutions. OpenBLAS's sgemm runs the same work with
 * 256-bit FMA on these cores. The tensors stay where they are: the caller passes views of the wasm
 * heap, which this code reads and writes in place, so nothing is copied across the boundary.
 *
 * Every entry point takes (…float32 views…, geometry Int32Array[13]) with the geometry
 *   batch, inH, inW, inC, outH, outW, outC, kh, kw, sh, sw, padTop, padLeft
 * and runs in the calling thread: OpenBLAS is held to one thread, since the studio already runs one
 * worker thread per core.
 *
 * Built by scripts/build-native.mjs; optional (the wasm kernels run when it is absent).
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define HAVE_FMA 1
#else
#define HAVE_FMA 0
#endif

extern void openblas_set_num_threads(int);

typedef struct {
  int batch, inH, inW, inC, outH, outW, outC, kh, kw, sh, sw, padTop, padLeft;
} Geometry;

#define X_SIZE(g) ((long)(g).batch * (g).inH * (g).inW * (g).inC)
#define Y_SIZE(g) ((long)(g).batch * (g).outH * (g).outW * (g).outC)
#define W_SIZE(g) ((long)(g).kh * (g).kw * (g).inC * (g).outC)

/* Rows of im2col processed per sgemm: bounds the column buffer (4 M floats = 16 MB) per call. */
#define CHUNK_FLOATS (4 * 1024 * 1024)

static int rows_per_chunk(const Geometry *g) {
  const long k = (long)g->kh * g->kw * g->inC;
  long rows = CHUNK_FLOATS / (k > 0 ? k : 1);
  const long total = (long)g->batch * g->outH * g->outW;
  if (rows < 1) rows = 1;
  if (rows > total) rows = total;
  return (int)rows;
}

/* A 1×1, stride-1, unpadded convolution reads x as its own column matrix. */
static int is_pointwise(const Geometry *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->padTop == 0 && g->padLeft == 0 &&
         g->outH == g->inH && g->outW == g->inW;
}

/* cols[r, (i*kw + j)*inC + c] = x[n, oy*sh + i - padTop, ox*sw + j - padLeft, c] (0 outside), rows m0..m1. */
static void im2col(const float *x, float *cols, const Geometry *g, long m0, long m1) {
  const long plane = (long)g->outH * g->outW;
  const int C = g->inC;
  const long K = (long)g->kh * g->kw * C;
  for (long m = m0; m < m1; m++) {
    const long n = m / plane, r = m % plane;
    const int oy = (int)(r / g->outW), ox = (int)(r % g->outW);
    float *dst = cols + (m - m0) * K;
    const float *image = x + n * g->inH * g->inW * C;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh + i - g->padTop;
      for (int j = 0; j < g->kw; j++, dst += C) {
        const int ix = ox * g->sw + j - g->padLeft;
        if (iy < 0 || iy >= g->inH || ix < 0 || ix >= g->inW) memset(dst, 0, sizeof(float) * C);
        else memcpy(dst, image + ((long)iy * g->inW + ix) * C, sizeof(float) * C);
      }
    }
  }
}

/* The adjoint of im2col: dx[n, iy, ix, c] += cols[r, tap*inC + c] for every tap that read it. */
static void col2im(const float *cols, float *dx, const Geometry *g, long m0, long m1) {
  const long plane = (long)g->outH * g->outW;
  const int C = g->inC;
  const long K = (long)g->kh * g->kw * C;
  for (long m = m0; m < m1; m++) {
    const long n = m / plane, r = m % plane;
    const int oy = (int)(r / g->outW), ox = (int)(r % g->outW);
    const float *src = cols + (m - m0) * K;
    float *image = dx + n * g->inH * g->inW * C;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh + i - g->padTop;
      for (int j = 0; j < g->kw; j++, src += C) {
        const int ix = ox * g->sw + j - g->padLeft;
        if (iy < 0 || iy >= g->inH || ix < 0 || ix >= g->inW) continue;
        float *d = image + ((long)iy * g->inW + ix) * C;
        for (int c = 0; c < C; c++) d[c] += src[c];
      }
    }
  }
}

/*
 * Direct convolution for few channels (CBAM's 7×7 spatial gate runs 1 → 1): as a GEMM it would have one
 * column and an im2col of single floats, so it loops over taps instead, with the output row innermost
 * (contiguous at stride 1, which the compiler vectorises).
 */
#define DIRECT_MAX_CHANNEL_PRODUCT 4

static int is_direct(const Geometry *g) {
  return (long)g->inC * g->outC <= DIRECT_MAX_CHANNEL_PRODUCT;
}

/* The output columns [*ox0, *ox1) whose tap j reads inside the input row. */
static void tap_columns(const Geometry *g, int j, int *ox0, int *ox1) {
  const int lo = g->padLeft - j; /* ox*sw >= lo */
  int a = lo <= 0 ? 0 : (lo + g->sw - 1) / g->sw;
  const int hi = g->inW - 1 + g->padLeft - j; /* ox*sw <= hi */
  int b = hi < 0 ? 0 : hi / g->sw + 1;
  if (b > g->outW) b = g->outW;
  if (a > b) a = b;
  *ox0 = a;
  *ox1 = b;
}

/* mode 0: out += x ⊛ w (forward); mode 1: dx += dy ⋆ w (input gradient); mode 2: dw += x · dy. */
static void direct(const float *x, const float *w, float *out, const float *dy, float *dx, double *dw, const Geometry *g, int mode) {
  const int C = g->inC, D = g->outC;
  for (int n = 0; n < g->batch; n++) {
    for (int oy = 0; oy < g->outH; oy++) {
      const long yrow = (((long)n * g->outH + oy) * g->outW) * D;
      for (int i = 0; i < g->kh; i++) {
        const int iy = oy * g->sh + i - g->padTop;
        if (iy < 0 || iy >= g->inH) continue;
        const long xrow = (((long)n * g->inH + iy) * g->inW) * C;
        for (int j = 0; j < g->kw; j++) {
          int ox0, ox1;
          tap_columns(g, j, &ox0, &ox1);
          const long xs = (long)g->sw * C, x0 = xrow + ((long)ox0 * g->sw + j - g->padLeft) * C;
          for (int ci = 0; ci < C; ci++) {
            for (int co = 0; co < D; co++) {
              const long t = (((long)i * g->kw + j) * C + ci) * D + co;
              if (mode == 0) {
                const float wv = w[t];
                const float *xp = x + x0 + ci;
                float *op = out + yrow + (long)ox0 * D + co;
                if (D == 1 && xs == 1) {
#pragma omp simd
                  for (int k = 0; k < ox1 - ox0; k++) op[k] += wv * xp[k];
                } else {
#pragma omp simd
                  for (int k = 0; k < ox1 - ox0; k++) op[k * D] += wv * xp[k * xs];
                }
              } else if (mode == 1) {
                const float wv = w[t];
                const float *dp = dy + yrow + (long)ox0 * D + co;
                float *xp = dx + x0 + ci;
                if (D == 1 && xs == 1) {
#pragma omp simd
                  for (int k = 0; k < ox1 - ox0; k++) xp[k] += wv * dp[k];
                } else {
#pragma omp simd
                  for (int k = 0; k < ox1 - ox0; k++) xp[k * xs] += wv * dp[k * D];
                }
              } else {
                const float *xp = x + x0 + ci;
                const float *dp = dy + yrow + (long)ox0 * D + co;
                float acc = 0.0f;
                if (D == 1 && xs == 1) {
#pragma omp simd reduction(+ : acc)
                  for (int k = 0; k < ox1 - ox0; k++) acc += xp[k] * dp[k];
                } else {
#pragma omp simd reduction(+ : acc)
                  for (int k = 0; k < ox1 - ox0; k++) acc += xp[k * xs] * dp[k * D];
                }
                dw[t] += acc;
              }
            }
          }
        }
      }
    }
  }
}

#if HAVE_FMA
/*
 * Implicit GEMM with AVX2 FMA for the detector's few-channel layers (16–32 channels at 128² and 64²), where
 * an sgemm with 16 columns runs at a third of its speed and the im2col matrix it needs is 9× the input.
 * Nothing is materialised: for a tile of output pixels each tap is a pointer into x (or into a row of
 * zeros where the tap falls in the padding), and the products accumulate in registers.
 */
#define PX 6 /* pixels per register tile: 6 × 16 outputs = 12 of the 16 ymm registers */

/* Where output pixel m's window starts in x: its image's base, and the top-left input row and column. */
typedef struct {
  const float *image;
  int iy, ix;
} Window;

static inline Window window_of(const float *x, const Geometry *g, long m) {
  const long plane = (long)g->outH * g->outW;
  const long n = m / plane, r = m % plane;
  const Window w = {x + n * g->inH * g->inW * g->inC, (int)(r / g->outW) * g->sh - g->padTop, (int)(r % g->outW) * g->sw - g->padLeft};
  return w;
}

/* The address tap (i, j) of a window reads, or `zeros` in the padding. */
static inline const float *tap_source(const Window *w, const float *zeros, const Geometry *g, int i, int j) {
  const int iy = w->iy + i, ix = w->ix + j;
  if (iy < 0 || iy >= g->inH || ix < 0 || ix >= g->inW) return zeros;
  return w->image + ((long)iy * g->inW + ix) * g->inC;
}

/* The register tile: r0..r5 (+ s0..s5 for the second 8 channels) += src[p][ci] · w[ci, co0 ..]. */
#define FMA_ROW(p)                                   \
  {                                                  \
    const __m256 a = _mm256_broadcast_ss(s##p + ci); \
    r##p = _mm256_fmadd_ps(a, b0, r##p);             \
    if (nv > 1) q##p = _mm256_fmadd_ps(a, b1, q##p); \
  }

/* out[m0 .. m0+np, co0 .. co0+8·nv] = Σ_taps Σ_ci src · w, np ≤ PX, nv ∈ {1, 2}. */
static inline __attribute__((always_inline)) void forward_tile(const Window *win, const float *w, float *out, const Geometry *g, const float *zeros, long m0, int np, int co0, int nv) {
  __m256 r0 = _mm256_setzero_ps(), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0;
  __m256 q0 = r0, q1 = r0, q2 = r0, q3 = r0, q4 = r0, q5 = r0;
  const int C = g->inC, D = g->outC;
  for (int i = 0; i < g->kh; i++) {
    for (int j = 0; j < g->kw; j++) {
      const float *s0 = tap_source(&win[0], zeros, g, i, j);
      const float *s1 = np > 1 ? tap_source(&win[1], zeros, g, i, j) : zeros;
      const float *s2 = np > 2 ? tap_source(&win[2], zeros, g, i, j) : zeros;
      const float *s3 = np > 3 ? tap_source(&win[3], zeros, g, i, j) : zeros;
      const float *s4 = np > 4 ? tap_source(&win[4], zeros, g, i, j) : zeros;
      const float *s5 = np > 5 ? tap_source(&win[5], zeros, g, i, j) : zeros;
      const float *wt = w + (long)(i * g->kw + j) * C * D + co0;
      for (int ci = 0; ci < C; ci++, wt += D) {
        const __m256 b0 = _mm256_loadu_ps(wt);
        const __m256 b1 = nv > 1 ? _mm256_loadu_ps(wt + 8) : b0;
        FMA_ROW(0) FMA_ROW(1) FMA_ROW(2) FMA_ROW(3) FMA_ROW(4) FMA_ROW(5)
      }
    }
  }
  const __m256 rs[PX] = {r0, r1, r2, r3, r4, r5}, qs[PX] = {q0, q1, q2, q3, q4, q5};
  for (int p = 0; p < np; p++) {
    float *o = out + (m0 + p) * D + co0;
    _mm256_storeu_ps(o, rs[p]);
    if (nv > 1) _mm256_storeu_ps(o + 8, qs[p]);
  }
}

static int implicit_ok(const Geometry *g) {
  /* Few output channels (where sgemm is weak) in whole ymm registers; wide layers stay on sgemm. */
  return g->outC % 8 == 0;
}

static int implicit_forward(const float *x, const float *w, float *out, const Geometry *g) {
  float *zeros = calloc((size_t)g->inC + 8, sizeof(float));
  if (!zeros) return 0;
  const long M = (long)g->batch * g->outH * g->outW;
  for (long m0 = 0; m0 < M; m0 += PX) {
    const int np = M - m0 < PX ? (int)(M - m0) : PX;
    Window win[PX];
    for (int p = 0; p < np; p++) win[p] = window_of(x, g, m0 + p);
    int co0 = 0;
    for (; co0 + 16 <= g->outC; co0 += 16) forward_tile(win, w, out, g, zeros, m0, np, co0, 2);
    if (co0 < g->outC) forward_tile(win, w, out, g, zeros, m0, np, co0, 1);
  }
  free(zeros);
  return 1;
}

/*
 * dx of a stride-1 convolution is the forward convolution of dy with the filter flipped in space and its
 * channel axes swapped, padded by k − 1 − pad: the same implicit kernel, no col2im.
 */
static int implicit_backprop_input(const float *dy, const float *w, float *dx, const Geometry *g) {
  if (g->sh != 1 || g->sw != 1) return 0;
  const Geometry t = {g->batch, g->outH, g->outW, g->outC, g->inH, g->inW, g->inC, g->kh, g->kw, 1, 1, g->kh - 1 - g->padTop, g->kw - 1 - g->padLeft};
  if (!implicit_ok(&t) || t.padTop < 0 || t.padLeft < 0) return 0;
  float *flipped = malloc(sizeof(float) * W_SIZE(*g));
  if (!flipped) return 0;
  for (int i = 0; i < g->kh; i++)
    for (int j = 0; j < g->kw; j++)
      for (int ci = 0; ci < g->inC; ci++)
        for (int co = 0; co < g->outC; co++)
          flipped[(((long)(g->kh - 1 - i) * g->kw + (g->kw - 1 - j)) * g->outC + co) * g->inC + ci] = w[(((long)i * g->kw + j) * g->inC + ci) * g->outC + co];
  const int ok = implicit_forward(dy, flipped, dx, &t);
  free(flipped);
  return ok;
}

#define BF_PIXELS 256 /* a tile of dy (256 × 16 floats, 16 KB) stays in L1 while every tap reads against it */
#define BF_CI 6       /* input channels per register tile: 6 × 16 accumulators */

#define FMA_CHANNEL(c)                                   \
  if (nc > c) {                                          \
    const __m256 a = _mm256_broadcast_ss(src[p] + ci0 + c); \
    r##c = _mm256_fmadd_ps(a, b0, r##c);                 \
    if (nv > 1) q##c = _mm256_fmadd_ps(a, b1, q##c);     \
  }

static inline __attribute__((always_inline)) void filter_tile(const float *const *src, const float *dyt, int np, int ci0, int nc, int co0, int nv, int D, double *dw) {
  __m256 r0 = _mm256_setzero_ps(), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0;
  __m256 q0 = r0, q1 = r0, q2 = r0, q3 = r0, q4 = r0, q5 = r0;
  for (int p = 0; p < np; p++) {
    const float *d = dyt + (long)p * D + co0;
    const __m256 b0 = _mm256_loadu_ps(d);
    const __m256 b1 = nv > 1 ? _mm256_loadu_ps(d + 8) : b0;
    FMA_CHANNEL(0) FMA_CHANNEL(1) FMA_CHANNEL(2) FMA_CHANNEL(3) FMA_CHANNEL(4) FMA_CHANNEL(5)
  }
  const __m256 rs[BF_CI] = {r0, r1, r2, r3, r4, r5}, qs[BF_CI] = {q0, q1, q2, q3, q4, q5};
  for (int c = 0; c < nc; c++) {
    float v[16];
    _mm256_storeu_ps(v, rs[c]);
    if (nv > 1) _mm256_storeu_ps(v + 8, qs[c]);
    double *row = dw + (long)(ci0 + c) * D + co0;
    for (int k = 0; k < 8 * nv; k++) row[k] += v[k];
  }
}

/* nc and nv as constants, so each call site compiles to its own fully unrolled tile. */
static void filter_tiles(const float *const *src, const float *dyt, int np, int C, int D, double *tap) {
  for (int ci0 = 0; ci0 < C; ci0 += BF_CI) {
    const int nc = C - ci0 < BF_CI ? C - ci0 : BF_CI;
    for (int co0 = 0; co0 < D; co0 += 16) {
      const int two = co0 + 16 <= D;
      switch (nc * 2 + two) {
#define CASE(n)                                                  \
  case 2 * n + 1: filter_tile(src, dyt, np, ci0, n, co0, 2, D, tap); break; \
  case 2 * n: filter_tile(src, dyt, np, ci0, n, co0, 1, D, tap); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
      }
    }
  }
}

/* dW[tap, ci, co] = Σ_m x[src(m, tap), ci] · dy[m, co], tile by tile of pixels; partial sums in double. */
static int implicit_backprop_filter(const float *x, const float *dy, float *dwOut, const Geometry *g) {
  if (!implicit_ok(g)) return 0;
  const int C = g->inC, D = g->outC;
  float *zeros = calloc((size_t)C + 8, sizeof(float));
  double *dw = calloc((size_t)W_SIZE(*g), sizeof(double));
  const float **src = malloc(sizeof(float *) * BF_PIXELS);
  Window *win = malloc(sizeof(Window) * BF_PIXELS);
  if (!zeros || !dw || !src || !win) {
    free(zeros);
    free(dw);
    free(src);
    free(win);
    return 0;
  }
  const long M = (long)g->batch * g->outH * g->outW;
  for (long m0 = 0; m0 < M; m0 += BF_PIXELS) {
    const int np = M - m0 < BF_PIXELS ? (int)(M - m0) : BF_PIXELS;
    const float *dyt = dy + m0 * D;
    for (int p = 0; p < np; p++) win[p] = window_of(x, g, m0 + p);
    for (int i = 0; i < g->kh; i++) {
      for (int j = 0; j < g->kw; j++) {
        for (int p = 0; p < np; p++) src[p] = tap_source(&win[p], zeros, g, i, j);
        filter_tiles(src, dyt, np, C, D, dw + (long)(i * g->kw + j) * C * D);
      }
    }
  }
  for (long t = 0; t < W_SIZE(*g); t++) dwOut[t] = (float)dw[t];
  free(zeros);
  free(dw);
  free(src);
  free(win);
  return 1;
}
#else
static int implicit_ok(const Geometry *g) { (void)g; return 0; }
static int implicit_forward(const float *x, const float *w, float *out, const Geometry *g) { (void)x; (void)w; (void)out; (void)g; return 0; }
static int implicit_backprop_input(const float *dy, const float *w, float *dx, const Geometry *g) { (void)dy; (void)w; (void)dx; (void)g; return 0; }
static int implicit_backprop_filter(const float *x, const float *dy, float *dw, const Geometry *g) { (void)x; (void)dy; (void)dw; (void)g; return 0; }
#endif

/* ---- N-API plumbing ---- */

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "studio native kernels: " #call);   \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* A Float32Array (or Int32Array for the geometry) argument's data and length; NULL for null/undefined. */
static int typed_array(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  napi_valuetype kind;
  if (napi_typeof(env, value, &kind) != napi_ok) return 0;
  if (kind == napi_null || kind == napi_undefined) {
    *data = NULL;
    *length = 0;
    return 1;
  }
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, data, &buffer, &offset) != napi_ok) return 0;
  return type == want;
}

static int read_args(napi_env env, napi_callback_info info, size_t count, float **arrays, size_t *lengths, Geometry *g, int32_t *flag) {
  napi_value argv[6];
  size_t argc = 6;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count + 1) {
    napi_throw_type_error(env, NULL, "studio native kernels: wrong argument count");
    return 0;
  }
  for (size_t i = 0; i < count; i++) {
    void *data;
    if (!typed_array(env, argv[i], napi_float32_array, &data, &lengths[i])) {
      napi_throw_type_error(env, NULL, "studio native kernels: expected a Float32Array");
      return 0;
    }
    arrays[i] = (float *)data;
  }
  int32_t *geom;
  size_t n;
  if (!typed_array(env, argv[count], napi_int32_array, (void **)&geom, &n) || n != 13) {
    napi_throw_type_error(env, NULL, "studio native kernels: geometry must be an Int32Array of 13");
    return 0;
  }
  memcpy(g, geom, sizeof(Geometry));
  if (flag) {
    *flag = 0;
    if (argc > count + 1) napi_get_value_int32(env, argv[count + 1], flag);
  }
  if (g->batch < 1 || g->inC < 1 || g->outC < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1 || g->outH < 1 || g->outW < 1) {
    napi_throw_range_error(env, NULL, "studio native kernels: bad geometry");
    return 0;
  }
  return 1;
}

static int sized(napi_env env, size_t have, long want, const char *what) {
  if (have >= (size_t)want) return 1;
  napi_throw_range_error(env, NULL, what);
  return 0;
}

/* The tensors a gradient kernel reads and writes: input, output gradient, filter. */
typedef enum { TENSOR_X, TENSOR_Y, TENSOR_W } Tensor;

static long tensor_size(const Geometry *g, Tensor t) {
  return t == TENSOR_X ? X_SIZE(*g) : t == TENSOR_Y ? Y_SIZE(*g) : W_SIZE(*g);
}

/* A gradient kernel's three arrays and its geometry, each array checked to hold the tensor it stands for. */
static int read_gradient_args(napi_env env, napi_callback_info info, float **a, Geometry *g, const Tensor kinds[3], const char *const errors[3]) {
  size_t len[3];
  if (!read_args(env, info, 3, a, len, g, NULL)) return 0;
  for (int i = 0; i < 3; i++)
    if (!sized(env, len[i], tensor_size(g, kinds[i]), errors[i])) return 0;
  return 1;
}


/* The im2col buffer for `chunk` rows of K columns; throws and returns NULL when memory runs out. */
static float *columns(napi_env env, long chunk, long K) {
  float *cols = malloc(sizeof(float) * chunk * K);
  if (!cols) napi_throw_error(env, NULL, "studio native kernels: out of memory");
  return cols;
}

/* conv2dForward(x, w, bias|null, out, geometry, relu): out = act(conv(x, w) + bias). */
static napi_value conv2d_forward(napi_env env, napi_callback_info info) {
  float *a[4];
  size_t len[4];
  Geometry g;
  int32_t relu;
  if (!read_args(env, info, 4, a, len, &g, &relu)) return NULL;
  const float *x = a[0], *w = a[1], *bias = a[2];
  float *out = a[3];
  if (!sized(env, len[0], X_SIZE(g), "x too small") || !sized(env, len[1], W_SIZE(g), "filter too small") ||
      !sized(env, len[3], Y_SIZE(g), "output too small") || (bias && !sized(env, len[2], g.outC, "bias too small")))
    return NULL;
  const long K = (long)g.kh * g.kw * g.inC, M = (long)g.batch * g.outH * g.outW;
  if (is_direct(&g)) {
    memset(out, 0, sizeof(float) * Y_SIZE(g));
    direct(x, w, out, NULL, NULL, NULL, &g, 0);
  } else if (is_pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, g.outC, K, 1.0f, x, K, w, g.outC, 0.0f, out, g.outC);
  } else if (implicit_ok(&g) && implicit_forward(x, w, out, &g)) {
    /* done in registers */
  } else {
    const long chunk = rows_per_chunk(&g);
    float *cols = columns(env, chunk, K);
    if (!cols) return NULL;
    for (long m0 = 0; m0 < M; m0 += chunk) {
      const long m1 = m0 + chunk < M ? m0 + chunk : M;
      im2col(x, cols, &g, m0, m1);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, g.outC, K, 1.0f, cols, K, w, g.outC, 0.0f, out + m0 * g.outC, g.outC);
    }
    free(cols);
  }
  if (bias || relu) {
    for (long m = 0; m < M; m++) {
      float *row = out + m * g.outC;
      if (bias)
        for (int c = 0; c < g.outC; c++) row[c] += bias[c];
      if (relu)
        for (int c = 0; c < g.outC; c++) row[c] = row[c] > 0.0f ? row[c] : 0.0f;
    }
  }
  return NULL;
}

/* conv2dBackpropInput(dy, w, dx, geometry): dx = col2im(dy · Wᵀ). */
static napi_value conv2d_backprop_input(napi_env env, napi_callback_info info) {
  static const Tensor kinds[3] = {TENSOR_Y, TENSOR_W, TENSOR_X};
  static const char *const errors[3] = {"dy too small", "filter too small", "dx too small"};
  float *a[3];
  Geometry g;
  if (!read_gradient_args(env, info, a, &g, kinds, errors)) return NULL;
  const float *dy = a[0], *w = a[1];
  float *dx = a[2];
  const long K = (long)g.kh * g.kw * g.inC, M = (long)g.batch * g.outH * g.outW;
  if (is_direct(&g)) {
    memset(dx, 0, sizeof(float) * X_SIZE(g));
    direct(NULL, w, NULL, dy, dx, NULL, &g, 1);
    return NULL;
  }
  if (is_pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, g.outC, 1.0f, dy, g.outC, w, g.outC, 0.0f, dx, K);
    return NULL;
  }
  if (implicit_backprop_input(dy, w, dx, &g)) return NULL;
  memset(dx, 0, sizeof(float) * X_SIZE(g));
  const long chunk = rows_per_chunk(&g);
  float *cols = columns(env, chunk, K);
  if (!cols) return NULL;
  for (long m0 = 0; m0 < M; m0 += chunk) {
    const long m1 = m0 + chunk < M ? m0 + chunk : M;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m1 - m0, K, g.outC, 1.0f, dy + m0 * g.outC, g.outC, w, g.outC, 0.0f, cols, K);
    col2im(cols, dx, &g, m0, m1);
  }
  free(cols);
  return NULL;
}

/* conv2dBackpropFilter(x, dy, dw, geometry): dW[K, outC] = Σ_rows im2col(x)ᵀ · dy. */
static napi_value conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  static const Tensor kinds[3] = {TENSOR_X, TENSOR_Y, TENSOR_W};
  static const char *const errors[3] = {"x too small", "dy too small", "dw too small"};
  float *a[3];
  Geometry g;
  if (!read_gradient_args(env, info, a, &g, kinds, errors)) return NULL;
  const float *x = a[0], *dy = a[1];
  float *dw = a[2];
  const long K = (long)g.kh * g.kw * g.inC, M = (long)g.batch * g.outH * g.outW;
  if (is_direct(&g)) {
    /* Row sums in float, their total in double: a 7×7 tap sums N·H·W products. */
    double *acc = calloc((size_t)W_SIZE(g), sizeof(double));
    if (!acc) {
      napi_throw_error(env, NULL, "studio native kernels: out of memory");
      return NULL;
    }
    direct(x, NULL, NULL, dy, NULL, acc, &g, 2);
    for (long t = 0; t < W_SIZE(g); t++) dw[t] = (float)acc[t];
    free(acc);
    return NULL;
  }
  if (is_pointwise(&g)) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.outC, M, 1.0f, x, K, dy, g.outC, 0.0f, dw, g.outC);
    return NULL;
  }
  if (implicit_backprop_filter(x, dy, dw, &g)) return NULL;
  const long chunk = rows_per_chunk(&g);
  float *cols = columns(env, chunk, K);
  if (!cols) return NULL;
  for (long m0 = 0; m0 < M; m0 += chunk) {
    const long m1 = m0 + chunk < M ? m0 + chunk : M;
    im2col(x, cols, &g, m0, m1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.outC, m1 - m0, 1.0f, cols, K, dy + m0 * g.outC, g.outC, m0 == 0 ? 0.0f : 1.0f, dw, g.outC);
  }
  free(cols);
  return NULL;
}

/* The BLAS this was linked with, for the backend string training records. */
static napi_value blas_name(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_string_utf8(env, "openblas", NAPI_AUTO_LENGTH, &out));
  return out;
}

NAPI_MODULE_INIT() {
  openblas_set_num_threads(1);
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"conv2dForward", conv2d_forward},
      {"conv2dBackpropInput", conv2d_backprop_input},
      {"conv2dBackpropFilter", conv2d_backprop_filter},
      {"blas", blas_name},
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok) return NULL;
  }
  return exports;
}
