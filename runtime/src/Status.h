//===- Status.h - xfrt_status, the runtime's error value -------------------===//
//
// Every C entry point reports failure by returning a heap-allocated status with a one-line message; the
// caller frees it with xfrt_status_free. NULL is success, so the happy path allocates nothing.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_STATUS_H
#define XF_RUNTIME_SRC_STATUS_H

#include "xfrt.h"

#include <exception>
#include <string>

struct xfrt_status_s {
  std::string message;
};

namespace xf::rt {

/// A failed status carrying `message`. Returns a static out-of-memory status if even that allocation fails,
/// so a caller never sees NULL (success) for an error.
xfrt_status failure(std::string message);

/// Runs `body` (returning xfrt_status) and turns any C++ exception into a failed status: nothing may unwind
/// through the C API.
template <typename Body>
xfrt_status guarded(const char *function, Body &&body) noexcept {
  try {
    return body();
  } catch (const std::exception &e) {
    return failure(std::string(function) + ": " + e.what());
  } catch (...) {
    return failure(std::string(function) + ": unknown C++ exception");
  }
}

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_STATUS_H
