//===- Status.cpp - xfrt_status, the runtime's error value -----------------===//

#include "Status.h"

#include <new>

namespace {
// Returned when allocating a real status fails; xfrt_status_free recognizes and never deletes it.
xfrt_status_s outOfMemoryStatus{"xfrt: out of memory while reporting an error"};
} // namespace

xfrt_status xf::rt::failure(std::string message) {
  try {
    return new xfrt_status_s{std::move(message)};
  } catch (...) {
    return &outOfMemoryStatus;
  }
}

extern "C" const char *xfrt_status_message(xfrt_status status) {
  return status ? status->message.c_str() : "success";
}

extern "C" void xfrt_status_free(xfrt_status status) {
  if (status != &outOfMemoryStatus)
    delete status;
}
