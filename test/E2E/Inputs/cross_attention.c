/* Runs the `gqa` kernel of test/E2E/Inputs/gqa-window.xf through its generated C header (no runtime) and
 * checks it against a double-precision causal, windowed GQA attention written here. Built for another
 * architecture and run under qemu-user by cross-aarch64.test. Prints "OK max_abs_err=..." or fails. */
#include "libgqa.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 1, H = 8, HKV = 2, S = 37, T = 160, D = 80, W = 100 };

static unsigned state = 12345u;
static float next(void) { /* uniform in [-1, 1) */
  state = state * 1664525u + 1013904223u;
  return (float)((state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void describe(xf_memref_f32_4d *m, float *data, int64_t b, int64_t h, int64_t s, int64_t d) {
  m->allocated = m->aligned = data;
  m->offset = 0;
  m->sizes[0] = b, m->sizes[1] = h, m->sizes[2] = s, m->sizes[3] = d;
  m->strides[3] = 1, m->strides[2] = d, m->strides[1] = s * d, m->strides[0] = h * s * d;
}

int main(void) {
  static float q[B * H * S * D], k[B * HKV * T * D], v[B * HKV * T * D], o[B * H * S * D];
  for (int i = 0; i < B * H * S * D; ++i) q[i] = next();
  for (int i = 0; i < B * HKV * T * D; ++i) k[i] = next(), v[i] = next();
  xf_memref_f32_4d mq, mk, mv, mo;
  describe(&mq, q, B, H, S, D), describe(&mk, k, B, HKV, T, D), describe(&mv, v, B, HKV, T, D);
  describe(&mo, o, B, H, S, D);
  int64_t items = _mlir_ciface_gqa_work_items(&mq, &mk, &mv, &mo);
  _mlir_ciface_gqa(&mq, &mk, &mv, &mo, 0, items);

  double worst = 0.0, scale = 1.0 / sqrt((double)D);
  for (int h = 0; h < H; ++h) {
    int kh = h / (H / HKV);
    for (int i = 0; i < S; ++i) {
      int pos = T - S + i;
      double m = -INFINITY, l = 0.0, acc[D] = {0};
      double z[T];
      for (int j = 0; j < T; ++j) {
        z[j] = -INFINITY;
        if (j <= pos && j > pos - W) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d) dot += (double)q[(h * S + i) * D + d] * k[(kh * T + j) * D + d];
          z[j] = dot * scale;
          if (z[j] > m) m = z[j];
        }
      }
      for (int j = 0; j < T; ++j)
        if (z[j] != -INFINITY) {
          double p = exp(z[j] - m);
          l += p;
          for (int d = 0; d < D; ++d) acc[d] += p * v[(kh * T + j) * D + d];
        }
      for (int d = 0; d < D; ++d) {
        double err = fabs(acc[d] / l - o[(h * S + i) * D + d]);
        if (err > worst) worst = err;
      }
    }
  }
  printf("%s max_abs_err=%.3g work_items=%lld\n", worst < 1e-4 ? "OK" : "MISMATCH", worst, (long long)items);
  return worst < 1e-4 ? 0 : 1;
}
