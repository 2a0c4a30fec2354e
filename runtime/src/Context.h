//===- Context.h - xfrt_context: where kernels run ---------------------------===//
#ifndef XF_RUNTIME_SRC_CONTEXT_H
#define XF_RUNTIME_SRC_CONTEXT_H

#include "runtime/cpu/ThreadPool.h"

struct xfrt_context_s {
  explicit xfrt_context_s(unsigned numThreads) : threadPool(numThreads) {}
  xf::rt::ThreadPool threadPool;
};

#endif // XF_RUNTIME_SRC_CONTEXT_H
