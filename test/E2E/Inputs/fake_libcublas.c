// A stand-in for libcublas.so on machines without a GPU, used with fake_libcuda.c (device memory is host
// memory): cublasSgemm_v2 computes the product on the CPU with cuBLAS's documented column-major semantics
// and prints its arguments, so tests check both how the runtime maps its row-major product onto cuBLAS and
// the numbers that come out.
#include <stdio.h>

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
  fprintf(stderr, "fake-cublas: sgemm %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d stream %s\n", transa ? 'T' : 'N',
          transb ? 'T' : 'N', m, n, k, lda, ldb, ldc, handle->stream ? "set" : "default");
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
