// A stand-in for libcublas.so on machines without a GPU, used with fake_libcuda.c (device memory is host
// memory): cublasSgemm_v2 and cublasGemmEx (f32 or bf16 operands, f32 results and sums) compute the product
// on the CPU with cuBLAS's documented column-major semantics and print their arguments, so tests check both how the runtime maps its row-major product onto cuBLAS and
// the numbers that come out.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int cublasStatus_t;
struct cublasContext { void *stream; };
static struct cublasContext theHandle;

cublasStatus_t cublasCreate_v2(struct cublasContext **handle) { *handle = &theHandle; return 0; }
cublasStatus_t cublasDestroy_v2(struct cublasContext *handle) { return 0; }
cublasStatus_t cublasSetStream_v2(struct cublasContext *handle, void *stream) {
  handle->stream = stream;
  return 0;
}

/// C (m x n, ldc) = alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n; column-major; op 0 = N, 1 = T.
cublasStatus_t cublasSgemm_v2(struct cublasContext *handle, int transa, int transb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc) {
  fprintf(stderr, "fake-cublas: sgemm %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d stream %s beta %g\n", transa ? 'T' : 'N',
          transb ? 'T' : 'N', m, n, k, lda, ldb, ldc, handle->stream ? "set" : "default", *beta);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        float a = transa ? A[p + i * lda] : A[i + p * lda];
        float b = transb ? B[j + p * ldb] : B[p + j * ldb];
        sum += (double)a * b;
      }
      C[i + j * ldc] = (float)(*alpha * sum + (*beta == 0.0f ? 0.0 : *beta * C[i + j * ldc]));
    }
  return 0;
}

enum { R32F = 0, R16BF = 14, COMPUTE32F = 68 };

static float element(const void *matrix, int type, long index) {
  if (type == R32F)
    return ((const float *)matrix)[index];
  uint32_t bits = (uint32_t)((const uint16_t *)matrix)[index] << 16;
  float value;
  memcpy(&value, &bits, sizeof(value));
  return value;
}

/// The same product with typed operands: A and B both f32 or both bf16, C f32, float32 compute; anything
/// else is refused with CUBLAS_STATUS_NOT_SUPPORTED (15), as the real library does for unsupported mixes.
cublasStatus_t cublasGemmEx(struct cublasContext *handle, int transa, int transb, int m, int n, int k,
                            const void *alpha, const void *A, int Atype, int lda, const void *B, int Btype, int ldb,
                            const void *beta, void *C, int Ctype, int ldc, int computeType, int algo) {
  fprintf(stderr,
          "fake-cublas: gemmex %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d A %s B %s C %s compute %d stream %s beta %g\n",
          transa ? 'T' : 'N', transb ? 'T' : 'N', m, n, k, lda, ldb, ldc, Atype == R16BF ? "bf16" : "f32",
          Btype == R16BF ? "bf16" : "f32", Ctype == R16BF ? "bf16" : "f32", computeType,
          handle->stream ? "set" : "default", *(const float *)beta);
  if (Atype != Btype || (Atype != R32F && Atype != R16BF) || Ctype != R32F || computeType != COMPUTE32F)
    return 15;
  float a0 = *(const float *)alpha, b0 = *(const float *)beta;
  float *out = (float *)C;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        float a = element(A, Atype, transa ? p + (long)i * lda : i + (long)p * lda);
        float b = element(B, Btype, transb ? j + (long)p * ldb : p + (long)j * ldb);
        sum += (double)a * b;
      }
      out[i + j * ldc] = (float)(a0 * sum + (b0 == 0.0f ? 0.0 : b0 * out[i + j * ldc]));
    }
  return 0;
}
