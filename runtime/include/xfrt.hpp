/*===- xfrt.hpp - C++ conveniences over the xf runtime C API -----------------===*
 *
 * Header-only: owning handles for modules and contexts, a status turned into its message, and a tensor
 * view of a std::vector. Everything here is a thin layer over xfrt.h.
 *===--------------------------------------------------------------------------===*/
#ifndef XFRT_HPP
#define XFRT_HPP

#include "xfrt.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace xfrt {

struct ModuleDeleter {
  void operator()(xfrt_module *module) const { xfrt_module_close(module); }
};
struct ContextDeleter {
  void operator()(xfrt_context *context) const { xfrt_context_destroy(context); }
};
struct ModelDeleter {
  void operator()(xfrt_model *model) const { xfrt_model_free(model); }
};
struct SessionDeleter {
  void operator()(xfrt_session *session) const { xfrt_session_free(session); }
};
using ModulePtr = std::unique_ptr<xfrt_module, ModuleDeleter>;
using ContextPtr = std::unique_ptr<xfrt_context, ContextDeleter>;
using ModelPtr = std::unique_ptr<xfrt_model, ModelDeleter>;
using SessionPtr = std::unique_ptr<xfrt_session, SessionDeleter>;

/// The status's message, or "" for success; frees the status.
inline std::string messageOf(xfrt_status status) {
  if (!status)
    return "";
  std::string message = xfrt_status_message(status);
  xfrt_status_free(status);
  return message;
}

/// A dense row-major view of `data` with `shape` (rank <= XFRT_MAX_RANK).
inline xfrt_tensor tensorOf(float *data, const std::vector<int64_t> &shape) {
  xfrt_tensor tensor{};
  tensor.data = data;
  tensor.rank = static_cast<int32_t>(shape.size());
  std::copy(shape.begin(), shape.end(), tensor.shape);
  return tensor;
}
inline xfrt_tensor tensorOf(std::vector<float> &data, const std::vector<int64_t> &shape) {
  return tensorOf(data.data(), shape);
}

} // namespace xfrt

#endif /* XFRT_HPP */
