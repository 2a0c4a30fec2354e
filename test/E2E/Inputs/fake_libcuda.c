// A stand-in for libcuda.so.1 on machines without a GPU: device memory is host memory, and a launch runs
// nothing but prints what the runtime passed, read with the parameter list of the kernel's own PTX entry,
// the way the real driver reads it. Tests compare that with what the kernel expects (the ABI between
// xf-cuda-serialize and the runtime's CUDA device). FAKE_CUDA_CC sets the compute capability (default 90).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;

static int capability(void) {
  const char *text = getenv("FAKE_CUDA_CC");
  return text ? atoi(text) : 90;
}

CUresult cuInit(unsigned flags) { return 0; }
CUresult cuDriverGetVersion(int *version) { *version = 13000; return 0; }
CUresult cuGetErrorName(CUresult status, const char **name) { *name = "CUDA_ERROR_FAKE"; return 0; }
CUresult cuGetErrorString(CUresult status, const char **text) { *text = "fake driver error"; return 0; }
CUresult cuDeviceGetCount(int *count) { *count = 1; return 0; }
CUresult cuDeviceGet(int *device, int index) { *device = index; return index == 0 ? 0 : 101; }
CUresult cuDeviceGetName(char *name, int size, int device) { snprintf(name, size, "Fake GPU"); return 0; }
CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  *value = attribute == 75 ? capability() / 10 : attribute == 76 ? capability() % 10 : attribute == 5 ? 65535 : 0;
  return 0;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) { *bytes = (size_t)80 << 30; return 0; }
CUresult cuDevicePrimaryCtxRetain(void **context, int device) { *context = (void *)0x1; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int device) { return 0; }
CUresult cuCtxSetCurrent(void *context) { return 0; }
CUresult cuStreamCreate(void **stream, unsigned flags) { *stream = (void *)0x2; return 0; }
CUresult cuStreamDestroy_v2(void *stream) { return 0; }
CUresult cuStreamSynchronize(void *stream) {
  if (getenv("FAKE_CUDA_LOG_COPIES"))
    fprintf(stderr, "fake-cuda: synchronize\n");
  return 0;
}
// Events: every interval between two of them reads 0.25 ms.
CUresult cuEventCreate(void **event, unsigned flags) { *event = malloc(1); return 0; }
CUresult cuEventDestroy_v2(void *event) { free(event); return 0; }
CUresult cuEventRecord(void *event, void *stream) { return 0; }
CUresult cuEventElapsedTime(float *ms, void *start, void *end) { *ms = 0.25f; return 0; }

CUresult cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
  fprintf(stderr, "fake-cuda: alloc %zu\n", bytes);
  *pointer = (unsigned long long)(uintptr_t)calloc(1, bytes);
  return 0;
}
CUresult cuMemFree_v2(unsigned long long pointer) { free((void *)(uintptr_t)pointer); return 0; }
CUresult cuMemAllocHost_v2(void **pointer, size_t bytes) {
  if (getenv("FAKE_CUDA_LOG_COPIES"))
    fprintf(stderr, "fake-cuda: alloc host %zu\n", bytes);
  *pointer = calloc(1, bytes);
  return 0;
}
CUresult cuMemFreeHost(void *pointer) { free(pointer); return 0; }
CUresult cuMemcpyHtoDAsync_v2(unsigned long long to, const void *from, size_t bytes, void *stream) {
  if (getenv("FAKE_CUDA_LOG_COPIES"))
    fprintf(stderr, "fake-cuda: upload %zu\n", bytes);
  memcpy((void *)(uintptr_t)to, from, bytes);
  return 0;
}
CUresult cuMemsetD32Async(unsigned long long to, unsigned value, size_t words, void *stream) {
  fprintf(stderr, "fake-cuda: set %zu words to %u\n", words, value);
  for (size_t i = 0; i < words; ++i)
    ((unsigned *)(uintptr_t)to)[i] = value;
  return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void *to, unsigned long long from, size_t bytes, void *stream) {
  if (getenv("FAKE_CUDA_LOG_COPIES"))
    fprintf(stderr, "fake-cuda: download %zu\n", bytes);
  memcpy(to, (const void *)(uintptr_t)from, bytes);
  return 0;
}

struct Module { const char *ptx; };
struct Function { char name[128]; char types[64]; int numParams; };

CUresult cuModuleLoadDataEx(struct Module **module, const void *image, unsigned n, int *options, void **values) {
  const char *ptx = image, *target = strstr(ptx, ".target ");
  if (!target)
    return 218; // CUDA_ERROR_INVALID_PTX
  fprintf(stderr, "fake-cuda: load %.*s\n", (int)strcspn(target, "\n"), target);
  *module = malloc(sizeof(struct Module));
  (*module)->ptx = ptx;
  return 0;
}
CUresult cuModuleUnload(struct Module *module) { free(module); return 0; }

/// The entry's parameters in PTX order: 'p' for .u64 pointers, 'i' for .u32.
CUresult cuModuleGetFunction(struct Function **function, struct Module *module, const char *name) {
  char entry[160];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  const char *at = strstr(module->ptx, entry);
  if (!at)
    return 500; // CUDA_ERROR_NOT_FOUND
  struct Function *f = calloc(1, sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  const char *end = strchr(at, ')');
  for (const char *p = strstr(at, ".param"); p && p < end && f->numParams < 63; p = strstr(p + 1, ".param"))
    f->types[f->numParams++] = strncmp(p, ".param .u64", 11) == 0 ? 'p' : 'i';
  *function = f;
  return 0;
}

CUresult cuLaunchKernel(struct Function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned sharedBytes, void *stream, void **params, void **extra) {
  fprintf(stderr, "fake-cuda: launch %s grid %u,%u,%u block %u,%u,%u params %d:", f->name, gx, gy, gz, bx, by, bz,
          f->numParams);
  for (int i = 0; i < f->numParams; ++i) {
    if (f->types[i] == 'p')
      fprintf(stderr, " %s", *(void **)params[i] ? "ptr" : "null");
    else
      fprintf(stderr, " %d", *(int32_t *)params[i]);
  }
  fprintf(stderr, "\n");
  return 0;
}
