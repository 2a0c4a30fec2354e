//===- KernelRun.cpp - xfrt_kernel_run: check a call, then run it ----------===//
//
// Compiled kernels trust their operands' shapes (checking them per work item would cost, and a wrong shape
// would read out of bounds), so every call is checked here against the metadata before any kernel code runs.
//
//===----------------------------------------------------------------------===//

#include "Context.h"
#include "Module.h"
#include "Status.h"
#include "runtime/cpu/MemRefCall.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace xf::rt;

namespace {

std::optional<std::string> checkOperand(const KernelInfo &kernel, const OperandInfo &operand,
                                        const xfrt_tensor &tensor) {
  std::string where = "kernel '" + kernel.name + "': operand '" + operand.name + "'";
  if (tensor.dtype != operand.dtype) {
    const char *given = xfrt_dtype_name(tensor.dtype);
    return llvm::formatv("{0} is {1}, but the kernel was compiled for {2}", where,
                         given ? std::string(given) : "an unknown dtype (" + std::to_string(tensor.dtype) + ")",
                         xfrt_dtype_name(operand.dtype))
        .str();
  }
  int64_t expectedRank = static_cast<int64_t>(operand.shape.size());
  if (tensor.rank != expectedRank)
    return llvm::formatv("{0} has rank {1}, expected {2}", where, tensor.rank, expectedRank).str();
  int64_t numElements = 1;
  for (int64_t dim = 0; dim < expectedRank; ++dim) {
    int64_t size = tensor.shape[dim];
    if (size < 0)
      return llvm::formatv("{0} dim {1} is {2}, sizes must be >= 0", where, dim, size).str();
    if (operand.shape[dim] != kDynamicDim && size != operand.shape[dim])
      return llvm::formatv("{0} dim {1} is {2}, expected {3}", where, dim, size, operand.shape[dim]).str();
    if (size != 0 && numElements > INT64_MAX / static_cast<int64_t>(xfrt_dtype_size(operand.dtype)) / size)
      return where + " is too large (its byte size overflows 64 bits)";
    numElements *= size;
  }
  // An empty tensor may have no buffer (an empty std::vector's data() is NULL); the kernel never reads it.
  if (!tensor.data && numElements != 0)
    return where + " has a NULL data pointer";
  return std::nullopt;
}

/// Rules between attention operands that the per-operand shapes cannot express: B, S and T are dynamic but
/// must agree across operands. Head counts and head dims are fixed by the attributes.
std::optional<std::string> checkAttentionOperands(const KernelInfo &kernel, const xfrt_tensor *operands) {
  auto tensor = [&](llvm::StringRef name) -> const xfrt_tensor & {
    return operands[kernel.operandIndex(name)];
  };
  std::string where = "kernel '" + kernel.name + "': ";
  const xfrt_tensor &query = tensor("query");
  for (const char *name : {"key", "value", "output"})
    if (tensor(name).shape[0] != query.shape[0])
      return llvm::formatv("{0}batch mismatch: query has batch {1}, {2} has {3}", where, query.shape[0], name,
                           tensor(name).shape[0])
          .str();
  if (tensor("output").shape[2] != query.shape[2])
    return llvm::formatv("{0}query has {1} positions (dim 2) but output has {2}", where, query.shape[2],
                         tensor("output").shape[2])
        .str();
  if (tensor("value").shape[2] != tensor("key").shape[2])
    return llvm::formatv("{0}key has {1} positions (dim 2) but value has {2}", where, tensor("key").shape[2],
                         tensor("value").shape[2])
        .str();

  // Per-token variant operands ([B, H, S]: router gates, affine alpha) follow the query's B and S.
  for (const char *name : {"gates", "alpha"}) {
    if (kernel.operandIndex(name) < 0)
      continue;
    const xfrt_tensor &t = tensor(name);
    if (t.rank == 3 && (t.shape[0] != query.shape[0] || t.shape[2] != query.shape[2]))
      return llvm::formatv("{0}operand '{1}' has shape [{2}, {3}, {4}] but the query has batch {5} and {6} "
                           "positions",
                           where, name, t.shape[0], t.shape[1], t.shape[2], query.shape[0], query.shape[2])
          .str();
  }

  for (const AttributeFixedDim &fixed : attentionAttributeFixedDims()) {
    int64_t size = tensor(fixed.operand).shape[fixed.dim];
    int64_t expected = *kernel.integerAttribute(fixed.attribute);
    if (size != expected)
      return llvm::formatv("{0}operand '{1}' dim {2} is {3}, expected {4} ({5})", where, fixed.operand,
                           fixed.dim, size, expected, fixed.attribute)
          .str();
  }
  return std::nullopt;
}

/// A count or index passed as f32 (the dense kernels' params), as its integer where it is one.
std::string number(double value) {
  return value == std::floor(value) && std::fabs(value) < 1e15 ? std::to_string(static_cast<int64_t>(value))
                                                               : llvm::formatv("{0}", value).str();
}

/// The dense kernels (xf-add-dense-kernels) index one operand with another's sizes, so sizes that must
/// agree are checked here, and embedding ids against the table. An operand the kind's checks name but the
/// module's metadata lacks reads as empty and lands in `missing` (see checkDenseOperands).
std::optional<std::string> checkDenseOperandsOf(const KernelInfo &kernel, const xfrt_tensor *operands,
                                                std::string &missing) {
  static const xfrt_tensor kAbsent{};
  auto tensor = [&](llvm::StringRef name) -> const xfrt_tensor & {
    int64_t index = kernel.operandIndex(name);
    if (index >= 0)
      return operands[index];
    if (missing.empty())
      missing = name.str();
    return kAbsent;
  };
  std::string where = "kernel '" + kernel.name + "': ";
  auto sameShape = [&](llvm::StringRef a, llvm::StringRef b) -> std::optional<std::string> {
    const xfrt_tensor &x = tensor(a), &y = tensor(b);
    if (x.rank == y.rank && std::equal(x.shape, x.shape + x.rank, y.shape))
      return std::nullopt;
    return where + "'" + a.str() + "' and '" + b.str() + "' must have the same shape";
  };
  auto dim = [&](llvm::StringRef name, int d) { return tensor(name).shape[d]; };
  // Integer parameters arrive as f32 (exact below 2^24); a NaN fails the comparison.
  auto param = [&](llvm::StringRef name) {
    const xfrt_tensor &t = tensor(name);
    return t.data ? static_cast<const float *>(t.data)[0] : NAN;
  };
  auto wholeFrom = [](float value, float least) { return value >= least && value == std::floor(value); };
  // The products read W as [N, K] (nn.Linear's layout); modules from before that change read [K, N].
  if (llvm::StringRef(kernel.kind).starts_with("dense_matmul")) {
    const KernelAttribute *weights = kernel.findAttribute("weights");
    if (!weights || weights->json != "\"out_in\"")
      return where + "its weights are [in, out], from an xfc older than this runtime: recompile the module";
  }
  // The `_acc` kinds add the product to the output (y += x W^T), with the same operands; the `_norm` ones
  // RMS-normalize x's rows first (gain [K], params [eps, offset]).
  llvm::StringRef kind = llvm::StringRef(kernel.kind);
  kind.consume_back("_acc");
  if (kind.starts_with("dense_matmul") && kind.consume_back("_norm") && dim("gain", 0) != dim("input", 1))
    return llvm::formatv("{0}'gain' has {1} entries but rows have {2}", where, dim("gain", 0), dim("input", 1)).str();
  if (kind == "dense_matmul" || kind == "dense_matmul_bf16") {
    // The weight is [N, K]; bf16 weights hold two of a row's inputs per 32-bit word.
    int64_t cols = kind == "dense_matmul" ? dim("input", 1) : (dim("input", 1) + 1) / 2;
    if (dim("weight", 1) != cols)
      return llvm::formatv("{0}'weight' has {1} columns but 'input' has {2}{3}", where, dim("weight", 1),
                           dim("input", 1), kind == "dense_matmul" ? "" : " (bf16 pairs: expected ceil(K/2))")
          .str();
    if (dim("output", 0) != dim("input", 0) || dim("output", 1) != dim("weight", 0))
      return llvm::formatv("{0}'output' must be [{1}, {2}]", where, dim("input", 0), dim("weight", 0)).str();
  } else if (kind == "dense_dot_bf16") {
    // Both operands are bf16 pairs: input [M, P], weight [N, P].
    if (dim("weight", 1) != dim("input", 1))
      return llvm::formatv("{0}'weight' has {1} bf16 pair columns but 'input' has {2}", where, dim("weight", 1),
                           dim("input", 1))
          .str();
    if (dim("output", 0) != dim("input", 0) || dim("output", 1) != dim("weight", 0))
      return llvm::formatv("{0}'output' must be [{1}, {2}]", where, dim("input", 0), dim("weight", 0)).str();
  } else if (llvm::StringRef(kernel.kind).starts_with("dense_qkv_")) {
    // Heads [col0, col0 + H * D) of the stacked projection [S, W], to the queries [H, S, D] or appended to a
    // cache [H, C, D] at rows [base, base + S).
    const bool query = llvm::StringRef(kernel.kind).starts_with("dense_qkv_query");
    const int64_t S = dim("input", 0), H = dim("output", 0), D = dim("output", 2);
    float col0 = param("params");
    if (!wholeFrom(col0, 0) || col0 + H * D > dim("input", 1))
      return llvm::formatv("{0}columns [{1}, {2}) are not within the input's {3}", where, number(col0),
                           number(double(col0) + H * D), dim("input", 1))
          .str();
    if (query && dim("output", 1) != S)
      return llvm::formatv("{0}'output' must be [{1}, {2}, {3}] for {2} tokens", where, H, S, D).str();
    if (!query) {
      float base = param("at");
      if (!wholeFrom(base, 0) || base + S > dim("output", 1))
        return llvm::formatv("{0}rows [{1}, {2}) are not within the cache's {3}", where, number(base),
                             number(double(base) + S), dim("output", 1))
            .str();
    }
    if (kernel.kind != "dense_qkv_value") {
      for (const char *table : {"cos", "sin"})
        if (dim(table, 0) != S || 2 * dim(table, 1) > D)
          return llvm::formatv("{0}'{1}' must be [{2}, R/2] with the rotary dim R at most the head dim {3}", where,
                               table, S, D)
              .str();
      if (kernel.operandIndex("norm") >= 0 &&
          (dim("norm", 1) != D || (dim("norm", 0) != 1 && dim("norm", 0) != H)))
        return llvm::formatv("{0}'norm' must be [1, {1}] (gains shared by the heads) or [{2}, {1}] (each head's "
                             "own), got [{3}, {4}]",
                             where, D, H, dim("norm", 0), dim("norm", 1))
            .str();
    }
  } else if (llvm::StringRef(kernel.kind).ends_with("_stacked")) {
    if (dim("output", 0) != dim("input", 0) || 2 * dim("output", 1) != dim("input", 1))
      return llvm::formatv("{0}'input' [{1}, {2}] must stack gate and up for 'output' [{3}, {4}]", where,
                           dim("input", 0), dim("input", 1), dim("output", 0), dim("output", 1))
          .str();
  } else if (kernel.kind == "dense_round_bf16") {
    if (dim("output", 0) != dim("input", 0) || dim("output", 1) != (dim("input", 1) + 1) / 2)
      return llvm::formatv("{0}'output' must be [{1}, {2}] (bf16 pairs of the input's {3} columns)", where,
                           dim("input", 0), (dim("input", 1) + 1) / 2, dim("input", 1))
          .str();
  } else if (kernel.kind == "dense_rms_norm") {
    if (dim("weight", 0) != dim("input", 1))
      return llvm::formatv("{0}'weight' has {1} entries but rows have {2}", where, dim("weight", 0), dim("input", 1)).str();
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_layer_norm") {
    if (dim("weight", 0) != dim("input", 1) || dim("bias", 0) != dim("input", 1))
      return llvm::formatv("{0}'weight' and 'bias' must have the rows' {1} entries", where, dim("input", 1)).str();
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_gated_rows_acc") {
    if (dim("gate", 0) != dim("input", 0) || dim("gate", 1) != 1)
      return llvm::formatv("{0}'gate' must be [{1}, 1]", where, dim("input", 0)).str();
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_rows_acc") {
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_rms_norm_cols") {
    // In place on columns [first, first + N) of the output's rows, N the weight's size.
    const xfrt_tensor &params = tensor("params");
    float first = params.data && params.shape[0] >= 4 ? static_cast<const float *>(params.data)[2] : NAN;
    if (!wholeFrom(first, 0) || first + dim("weight", 0) > dim("output", 1))
      return llvm::formatv("{0}columns [{1}, {2}) are not within the rows' {3}", where, number(first),
                           number(double(first) + dim("weight", 0)), dim("output", 1))
          .str();
  } else if (kernel.kind == "dense_rope") {
    if (dim("cos", 1) != dim("sin", 1) || 2 * dim("cos", 1) > dim("input", 2))
      return llvm::formatv("{0}'cos' and 'sin' must be [{1}, R/2] with the rotary dim R at most the head dim {2}",
                           where, dim("input", 0), dim("input", 2))
          .str();
    for (const char *table : {"cos", "sin"})
      if (dim(table, 0) != dim("input", 0))
        return llvm::formatv("{0}'{1}' has {2} rows but the input has {3} tokens", where, table, dim(table, 0),
                             dim("input", 0))
            .str();
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_bias_add") {
    if (dim("bias", 0) != dim("input", 1))
      return llvm::formatv("{0}'bias' has {1} entries but rows have {2}", where, dim("bias", 0), dim("input", 1)).str();
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_scale") {
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_slice_cols") {
    float offset = param("params");
    if (dim("output", 0) != dim("input", 0))
      return llvm::formatv("{0}'output' has {1} rows but 'input' has {2}", where, dim("output", 0), dim("input", 0))
          .str();
    if (!wholeFrom(offset, 0) || offset + dim("output", 1) > dim("input", 1))
      return llvm::formatv("{0}columns [{1}, {2}) are not within the input's {3}", where, number(offset),
                           number(double(offset) + dim("output", 1)), dim("input", 1))
          .str();
  } else if (kernel.kind == "dense_latent_qkv") {
    // params [rank, D]: q [S, H * D], latent [S, rank + R], keys_values [S, H * (D - R) + H * Dv],
    // output [S, 2 * H * D + H * Dv].
    const xfrt_tensor &params = tensor("params");
    const float *v = static_cast<const float *>(params.data);
    const int64_t rows = dim("output", 0), qw = dim("query", 1), cw = dim("latent", 1);
    if (!v || params.rank != 1 || params.shape[0] != 2 || !wholeFrom(v[0], 1) || !wholeFrom(v[1], 1) ||
        v[0] >= cw || qw % static_cast<int64_t>(v[1]) != 0)
      return where + "'params' must be [rank, D]: a rank below the latent's columns and D dividing q's";
    const int64_t D = static_cast<int64_t>(v[1]), R = cw - static_cast<int64_t>(v[0]), heads = qw / D;
    const int64_t keyCols = heads * (D - R), valueCols = dim("output", 1) - 2 * qw;
    if (R > D || dim("query", 0) != rows || dim("latent", 0) != rows || dim("keys_values", 0) != rows ||
        valueCols <= 0 || valueCols % heads != 0 || dim("keys_values", 1) != keyCols + valueCols)
      return llvm::formatv("{0}'output' [{1}, {2}] is not q | k | v for q [{3}, {4}], latent [{5}, {6}] and "
                           "keys_values [{7}, {8}]",
                           where, rows, dim("output", 1), dim("query", 0), qw, dim("latent", 0), cw,
                           dim("keys_values", 0), dim("keys_values", 1))
          .str();
  } else if (kernel.kind == "dense_cache_store") {
    float base = param("params");
    if (dim("output", 0) != dim("input", 1) || dim("output", 2) != dim("input", 2))
      return llvm::formatv("{0}'output' must be [{1}, C, {2}] for 'input' [S, {1}, {2}]", where, dim("input", 1),
                           dim("input", 2))
          .str();
    if (!wholeFrom(base, 0) || base + dim("input", 0) > dim("output", 1))
      return llvm::formatv("{0}rows [{1}, {2}) are not within the cache's {3}", where, number(base),
                           number(double(base) + dim("input", 0)), dim("output", 1))
          .str();
  } else if (kernel.kind == "dense_topk_softmax") {
    float k = param("params");
    if (!wholeFrom(k, 1) || k > dim("input", 1))
      return llvm::formatv("{0}top-{1} of {2} experts", where, number(k), dim("input", 1)).str();
    if (dim("output", 0) != dim("input", 0) * static_cast<int64_t>(k))
      return llvm::formatv("{0}'output' must have {1} x {2} rows (tokens x choices)", where, dim("input", 0), number(k))
          .str();
  } else if (kernel.kind == "dense_topk_sparsemixer") {
    // Two routes per token among at least two experts; params [eps].
    float eps = param("params");
    if (!(eps >= 0.0f))
      return llvm::formatv("{0}the exclusion eps must be >= 0, got {1}", where, number(eps)).str();
    if (dim("input", 1) < 2)
      return llvm::formatv("{0}sparsemixer picks 2 of at least 2 experts, got {1}", where, dim("input", 1)).str();
    if (dim("output", 0) != dim("input", 0) * 2)
      return llvm::formatv("{0}'output' must have {1} x 2 rows (tokens x choices)", where, dim("input", 0)).str();
  } else if (kernel.kind == "dense_topk_scored") {
    // params [K, norm, groups, top_groups, scale, softmax, norm_min]: the groups index a 32-bit mask.
    const xfrt_tensor &params = tensor("params");
    const float *v = static_cast<const float *>(params.data);
    const int64_t experts = dim("input", 1);
    if (!v || params.rank != 1 || params.shape[0] != 7)
      return where + "'params' must be [7]: top-k, norm, groups, top groups, scale, softmax, norm floor";
    if (!wholeFrom(v[0], 1) || v[0] > experts)
      return llvm::formatv("{0}top-{1} of {2} experts", where, number(v[0]), experts).str();
    if (!wholeFrom(v[2], 1) || v[2] > 32 || experts % static_cast<int64_t>(v[2]) != 0 || !wholeFrom(v[3], 1) ||
        v[3] > v[2])
      return llvm::formatv("{0}{1} of {2} expert groups (at most 32, dividing the {3} experts)", where, number(v[3]),
                           number(v[2]), experts)
          .str();
    if (dim("bias", 0) != experts)
      return llvm::formatv("{0}'bias' must be [{1}] (one per expert)", where, experts).str();
    if (dim("output", 0) != dim("input", 0) * static_cast<int64_t>(v[0]))
      return llvm::formatv("{0}'output' must have {1} x {2} rows (tokens x choices)", where, dim("input", 0),
                           number(v[0]))
          .str();
  } else if (llvm::StringRef(kernel.kind).starts_with("dense_matmul_routed") ||
             llvm::StringRef(kernel.kind).starts_with("dense_matmul_grouped")) {
    // The weight is [E, N, K] (bf16: [E, N, ceil(K/2)] words). Routed products take a route per output
    // row, grouped ones per expert a count and its rows (groups [E, R + 1], xf_dense_route_groups).
    bool grouped = llvm::StringRef(kernel.kind).starts_with("dense_matmul_grouped");
    bool words = llvm::StringRef(kernel.kind).ends_with("_bf16");
    int64_t cols = words ? (dim("input", 1) + 1) / 2 : dim("input", 1);
    float per = param("params");
    if (dim("weight", 2) != cols)
      return llvm::formatv("{0}'weight' has {1} columns per expert but 'input' has {2}{3}", where, dim("weight", 2),
                           dim("input", 1), words ? " (bf16 pairs: expected ceil(K/2))" : "")
          .str();
    if (!grouped && (dim("output", 1) != dim("weight", 1) || dim("routes", 0) != dim("output", 0)))
      return llvm::formatv("{0}'output' must be [routes, {1}] with one route per row", where, dim("weight", 1)).str();
    if (grouped && dim("output", 1) != dim("weight", 1))
      return llvm::formatv("{0}'output' must be [rows, {1}]", where, dim("weight", 1)).str();
    if (grouped && (dim("groups", 0) != dim("weight", 0) || dim("groups", 1) != dim("output", 0) + 1))
      return llvm::formatv("{0}'groups' must be [{1}, {2}]: per expert a count and the output's rows", where,
                           dim("weight", 0), dim("output", 0) + 1)
          .str();
    if (dim("weight", 0) == 0 && dim("output", 0) > 0)
      return where + "'weight' holds no expert";
    if (!wholeFrom(per, 1) ||
        (dim("output", 0) > 0 && (dim("output", 0) - 1) / static_cast<int64_t>(per) >= dim("input", 0)))
      return llvm::formatv("{0}{1} output rows per input row do not match {2} input rows for {3} output rows", where,
                           number(per), dim("input", 0), dim("output", 0))
          .str();
  } else if (kernel.kind == "dense_route_groups") {
    if (dim("output", 1) != dim("routes", 0) + 1 || (dim("output", 0) == 0 && dim("routes", 0) > 0))
      return llvm::formatv("{0}'output' must be [experts, {1}]: per expert a count and up to {2} rows", where,
                           dim("routes", 0) + 1, dim("routes", 0))
          .str();
  } else if (kernel.kind == "dense_bias_add_routed") {
    if (dim("bias", 1) != dim("input", 1) || dim("routes", 0) != dim("input", 0) ||
        (dim("bias", 0) == 0 && dim("input", 0) > 0))
      return llvm::formatv("{0}'bias' must be [experts, {1}] and 'routes' have a row per input row", where,
                           dim("input", 1))
          .str();
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_moe_combine" || kernel.kind == "dense_moe_combine_acc") {
    if (dim("routes", 0) != dim("input", 0) || dim("output", 1) != dim("input", 1) ||
        (dim("output", 0) == 0 ? dim("input", 0) != 0 : dim("input", 0) % dim("output", 0) != 0))
      return llvm::formatv("{0}'input' [{1}, {2}] and 'routes' must hold a whole number of rows per output row of "
                           "[{3}, {4}]",
                           where, dim("input", 0), dim("input", 1), dim("output", 0), dim("output", 1))
          .str();
  } else if (kernel.kind == "dense_transpose01") {
    if (dim("output", 0) != dim("input", 1) || dim("output", 1) != dim("input", 0) ||
        dim("output", 2) != dim("input", 2))
      return llvm::formatv("{0}'output' must be [{1}, {2}, {3}]", where, dim("input", 1), dim("input", 0),
                           dim("input", 2))
          .str();
  } else if (kernel.kind == "dense_silu_gate" || kernel.kind == "dense_gelu_tanh_gate" ||
             kernel.kind == "dense_gelu_gate" || kernel.kind == "dense_clamped_swiglu") {
    if (auto problem = sameShape("gate", "up"))
      return problem;
    return sameShape("gate", "output");
  } else if (kernel.kind == "dense_silu" || kernel.kind == "dense_gelu_tanh" || kernel.kind == "dense_gelu") {
    return sameShape("input", "output");
  } else if (kernel.kind == "dense_add") {
    if (auto problem = sameShape("lhs", "rhs"))
      return problem;
    return sameShape("lhs", "output");
  } else if (kernel.kind == "dense_embed") {
    if (dim("output", 0) != dim("ids", 0) || dim("output", 1) != dim("table", 1))
      return llvm::formatv("{0}'output' must be [{1}, {2}]", where, dim("ids", 0), dim("table", 1)).str();
    const xfrt_tensor &ids = tensor("ids");
    for (int64_t i = 0; i < ids.shape[0]; ++i) {
      float id = static_cast<const float *>(ids.data)[i];
      if (!(id >= 0 && id < dim("table", 0)) || id != std::floor(id)) {
        std::string spelled = id == std::floor(id) && std::fabs(id) < 1e15f ? std::to_string(static_cast<int64_t>(id))
                                                                             : llvm::formatv("{0}", id).str();
        return llvm::formatv("{0}id {1} at position {2} is outside the table's {3} rows", where, spelled, i,
                             dim("table", 0))
            .str();
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> checkDenseOperands(const KernelInfo &kernel, const xfrt_tensor *operands) {
  std::string missing;
  std::optional<std::string> problem = checkDenseOperandsOf(kernel, operands, missing);
  if (!missing.empty())
    return "kernel '" + kernel.name + "': its kind '" + kernel.kind + "' needs an operand '" + missing +
           "', which the module's metadata does not list (a malformed module)";
  return problem;
}

std::optional<std::string> checkCall(const KernelInfo &kernel, const xfrt_tensor *operands, int64_t numOperands) {
  if (numOperands != static_cast<int64_t>(kernel.operands.size())) {
    std::vector<llvm::StringRef> names;
    for (const OperandInfo &operand : kernel.operands)
      names.push_back(operand.name);
    return llvm::formatv("kernel '{0}' takes {1} operands ({2}), got {3}", kernel.name, kernel.operands.size(),
                         llvm::join(names, ", "), numOperands)
        .str();
  }
  if (!operands)
    return "kernel '" + kernel.name + "': 'operands' is NULL";
  for (size_t i = 0; i < kernel.operands.size(); ++i)
    if (std::optional<std::string> problem = checkOperand(kernel, kernel.operands[i], operands[i]))
      return problem;
  if (kernel.kind == "attention")
    return checkAttentionOperands(kernel, operands);
  if (llvm::StringRef(kernel.kind).starts_with("dense_"))
    return checkDenseOperands(kernel, operands);
  if (kernel.kind == "moh_router" && kernel.operandIndex("input") >= 0) {
    const xfrt_tensor &input = operands[kernel.operandIndex("input")];
    const xfrt_tensor &gates = operands[kernel.operands.size() - 1];
    if (input.rank == 3 && gates.rank == 3 && (input.shape[0] != gates.shape[0] || input.shape[1] != gates.shape[2]))
      return llvm::formatv("kernel '{0}': input [{1}, {2}, ...] and gates [{3}, ..., {4}] disagree on batch or "
                           "tokens",
                           kernel.name, input.shape[0], input.shape[1], gates.shape[0], gates.shape[2])
          .str();
  }
  return std::nullopt;
}

/// Small chunks keep threads busy to the end when work items differ in cost (causal attention). A work item
/// is meant to be coarse (a tile of query rows), so a few items per entry call already amortize the call and
/// the atomic hand-out. The cap also bounds what one entry call does, which matters for kernels whose
/// per-item scratch buffers live on the stack.
int64_t chunkSizeFor(int64_t numWorkItems, unsigned numThreads) {
  constexpr int64_t kChunksPerThread = 16;
  constexpr int64_t kMaxItemsPerCall = 16;
  return std::clamp<int64_t>(numWorkItems / (kChunksPerThread * numThreads), 1, kMaxItemsPerCall);
}

/// The byte size of every operand of a GPU kernel. GPU kernels index with 32 bits, so every dimension and
/// every operand's element count must stay below 2^31.
std::optional<std::string> gpuOperandBytes(const KernelInfo &kernel, const xfrt_tensor *operands, int64_t numOperands,
                                           llvm::ArrayRef<int64_t> extents, const char *api,
                                           std::vector<size_t> &bytes) {
  for (int64_t i = 0; i < numOperands; ++i) {
    int64_t elements = 1;
    for (int32_t d = 0; d < operands[i].rank; ++d) {
      int64_t extent = operands[i].shape[d];
      for (auto [pitch, stored] : llvm::zip(kernel.gpu->pitches, extents))
        if (pitch == std::pair<int64_t, int64_t>{i, d})
          extent = stored;
      if (extent > INT32_MAX)
        return llvm::formatv("kernel '{0}': operand '{1}' dim {2} is {3}; {4} kernels index with 32 bits", kernel.name,
                             kernel.operands[i].name, d, extent, api)
            .str();
      elements *= extent;
    }
    if (elements > INT32_MAX)
      return llvm::formatv("kernel '{0}': operand '{1}' has {2} elements; {3} kernels index with 32 bits (at most "
                           "2^31 - 1 elements)",
                           kernel.name, kernel.operands[i].name, elements, api)
          .str();
    bytes.push_back(static_cast<size_t>(elements) * xfrt_dtype_size(kernel.operands[i].dtype));
  }
  return std::nullopt;
}

/// What a GPU launch needs besides the kernel: each operand's byte size, the dynamic dims and then the
/// pitches in push-constant order, and the number of workgroups (one work item per thread).
struct GpuLaunch {
  std::vector<size_t> bytes;
  std::vector<int32_t> shapes;
  int64_t workItems = 0, groups = 0;
};

std::optional<std::string> planGpuLaunch(const xfrt_module &module, int64_t kernelIndex, const xfrt_tensor *operands,
                                         int64_t numOperands, llvm::ArrayRef<OperandPitch> given, const char *api,
                                         GpuLaunch &launch) {
  const KernelInfo &kernel = module.info.kernels[kernelIndex];
  const GpuLaunchInfo &gpu = *kernel.gpu;
  // Each pitched dimension's extent: the size, unless the call stores it farther apart.
  std::vector<int64_t> extents;
  for (auto [operand, dim] : gpu.pitches)
    extents.push_back(operands[operand].shape[dim]);
  for (const OperandPitch &pitch : given) {
    auto slot = llvm::find(gpu.pitches, std::pair<int64_t, int64_t>{pitch.operand, pitch.dim});
    if (slot == gpu.pitches.end())
      return llvm::formatv("kernel '{0}': operand {1} dim {2} takes no pitch", kernel.name, pitch.operand, pitch.dim)
          .str();
    int64_t &extent = extents[slot - gpu.pitches.begin()];
    if (pitch.extent < extent)
      return llvm::formatv("kernel '{0}': operand '{1}' dim {2} has {3} rows but a pitch of {4}", kernel.name,
                           kernel.operands[pitch.operand].name, pitch.dim, extent, pitch.extent)
          .str();
    extent = pitch.extent;
  }
  if (std::optional<std::string> problem = gpuOperandBytes(kernel, operands, numOperands, extents, api, launch.bytes))
    return problem;
  for (auto [operand, dim] : gpu.pushConstants)
    launch.shapes.push_back(static_cast<int32_t>(operands[operand].shape[dim]));
  for (int64_t extent : extents)
    launch.shapes.push_back(static_cast<int32_t>(extent));
  std::vector<MemRefDescriptor> descriptors(operands, operands + numOperands);
  launch.workItems = callWorkItems(module.entryPoints[kernelIndex].workItems, descriptors);
  if (launch.workItems < 0)
    return llvm::formatv("kernel '{0}': work item count is {1} (a bug in the compiled kernel)", kernel.name,
                         launch.workItems)
        .str();
  launch.groups = (launch.workItems + gpu.workgroupSize - 1) / gpu.workgroupSize;
  return std::nullopt;
}

/// A cuda module's kernel: the PTX image for the device's architecture, operands into device memory, the
/// work-item count from the host counter, one thread per item, the output back.
xfrt_status runOnCuda(xfrt_context &context, const xfrt_module &module, int64_t kernelIndex,
                      const xfrt_tensor *operands, int64_t numOperands, llvm::ArrayRef<OperandPitch> pitches) {
  const KernelInfo &kernel = module.info.kernels[kernelIndex];
  if (!context.cuda)
    return failure("kernel '" + kernel.name + "' is compiled for cuda but the context runs on " + context.device +
                   " (create it with xfrt_context_create_on(\"cuda\", ...))");
  const GpuLaunchInfo &gpu = *kernel.gpu;
  // The newest image the device runs: PTX for sm_NN is JIT-compiled for any device of capability >= NN.
  int capability = context.cuda->computeCapability();
  const char *ptx = nullptr;
  for (auto [image, text] : llvm::zip(gpu.ptx, module.entryPoints[kernelIndex].ptx))
    if (image.arch <= capability)
      ptx = text;
  if (!ptx)
    return failure(llvm::formatv("kernel '{0}': {1} (compute capability {2}.{3}) is older than every PTX image "
                                 "(the oldest is for sm_{4})",
                                 kernel.name, context.cuda->name(), capability / 10, capability % 10,
                                 gpu.ptx.front().arch));
  GpuLaunch plan;
  if (std::optional<std::string> problem =
          planGpuLaunch(module, kernelIndex, operands, numOperands, pitches, "CUDA", plan))
    return failure(std::move(*problem));
  std::vector<CudaBinding> bindings;
  for (int64_t i = 0; i < numOperands; ++i)
    bindings.push_back({operands[i].data, plan.bytes[i], i == numOperands - 1});
  if (gpu.scratchWordsPerItem > 0) {
    uint64_t words = static_cast<uint64_t>(plan.workItems) * static_cast<uint64_t>(gpu.scratchWordsPerItem);
    if (words / static_cast<uint64_t>(gpu.scratchWordsPerItem) != static_cast<uint64_t>(plan.workItems))
      return failure("kernel '" + kernel.name + "': its scratch size overflows");
    size_t zeroed = static_cast<size_t>(plan.workItems) * static_cast<size_t>(gpu.scratchZeroedWordsPerItem);
    bindings.push_back({nullptr, static_cast<size_t>(words) * sizeof(float), false, zeroed * sizeof(float)});
  }
  // Dense products (y = x w^T, w [N, K]; `_acc`: y += x w^T) go to cuBLAS where it is installed, the compiled
  // kernel being the fallback; the bf16 dot (both operands bf16 pairs) to its bf16 GEMM.
  llvm::StringRef kind = llvm::StringRef(kernel.kind);
  const bool accumulate = kind.consume_back("_acc");
  if ((kind == "dense_matmul" || kind == "dense_dot_bf16") && context.cuda->hasBlas()) {
    const bool dot = kind == "dense_dot_bf16";
    int64_t x = kernel.operandIndex("input"), w = kernel.operandIndex("weight"), y = kernel.operandIndex("output");
    auto dim = [&](int64_t operand, int d) { return static_cast<int32_t>(operands[operand].shape[d]); };
    if (llvm::Error err = context.cuda->matmul(bindings[x], bindings[w], bindings[y], dim(x, 0), dim(w, 0),
                                               dot ? 2 * dim(x, 1) : dim(x, 1),
                                               dot ? CudaDevice::Operands::BF16 : CudaDevice::Operands::F32,
                                               accumulate))
      return failure("kernel '" + kernel.name + "' (cuBLAS) on " + context.cuda->name() + ": " +
                     llvm::toString(std::move(err)));
    return nullptr;
  }
  int64_t blocks = plan.groups;
  if (blocks > context.cuda->maxBlocks())
    return failure(llvm::formatv("kernel '{0}': {1} work items need {2} blocks, {3} allows {4} per launch",
                                 kernel.name, plan.workItems, blocks, context.cuda->name(), context.cuda->maxBlocks()));
  // The subgroup form's shuffles synchronize the full warp (membermask 0xffffffff).
  if (gpu.subgroupLanes && gpu.subgroupLanes != 32)
    return failure(llvm::formatv("kernel '{0}' gives each query row {1} lanes; CUDA kernels need 32 (a warp)",
                                 kernel.name, gpu.subgroupLanes));
  CudaKernel launch;
  launch.ptx = ptx;
  launch.entryPoint = gpu.entryPoint;
  launch.blockSize = static_cast<uint32_t>(gpu.workgroupSize);
  if (llvm::Error err = context.cuda->launch(launch, bindings, plan.shapes, static_cast<uint32_t>(blocks)))
    return failure("kernel '" + kernel.name + "' on " + context.cuda->name() + ": " + llvm::toString(std::move(err)));
  return nullptr;
}

/// A vulkan module's kernel: operands into device buffers, the work-item count from the host counter, one
/// thread per item, the output back.
xfrt_status runOnVulkan(xfrt_context &context, const xfrt_module &module, int64_t kernelIndex,
                        const xfrt_tensor *operands, int64_t numOperands, llvm::ArrayRef<OperandPitch> pitches) {
  const KernelInfo &kernel = module.info.kernels[kernelIndex];
  if (!context.vulkan)
    return failure("kernel '" + kernel.name + "' is compiled for vulkan but the context runs on " + context.device +
                   " (create it with xfrt_context_create_on(\"vulkan\", ...))");
  const GpuLaunchInfo &gpu = *kernel.gpu;
  GpuLaunch plan;
  if (std::optional<std::string> problem =
          planGpuLaunch(module, kernelIndex, operands, numOperands, pitches, "Vulkan", plan))
    return failure(std::move(*problem));
  for (const OperandInfo &operand : kernel.operands)
    if (const char *missing = context.vulkan->missingFor(operand.dtype))
      return failure(llvm::formatv("kernel '{0}': operand '{1}' is {2}, which needs the Vulkan feature {3}; {4} "
                                   "lacks it (compile the kernel with f32 operands for this device)",
                                   kernel.name, operand.name, xfrt_dtype_name(operand.dtype), missing,
                                   context.vulkan->name()));
  std::vector<VulkanBinding> bindings;
  for (int64_t i = 0; i < numOperands; ++i)
    bindings.push_back({operands[i].data, plan.bytes[i], i == numOperands - 1});
  int64_t groups = plan.groups;
  if (groups > context.vulkan->maxWorkgroups())
    return failure(llvm::formatv("kernel '{0}': {1} work items need {2} workgroups, {3} allows {4} per dispatch",
                                 kernel.name, plan.workItems, groups, context.vulkan->name(),
                                 context.vulkan->maxWorkgroups()));
  // llvmpipe ends every invocation after 65535 loop iterations and returns what it has. The kernels unroll
  // their inner loops, except attention's staged form (inside its barrier loop), which at head dim 128
  // loses keys from about 1800 on. The bound below keeps a margin for the loops that variants add (affine
  // value sums on partly masked blocks, modifier regions); refuse past it rather than return a truncated
  // result.
  if (gpu.barrierLoops && kernel.kind == "attention" && context.vulkan->isLlvmpipe()) {
    int64_t keyIndex = kernel.operandIndex("key"), queryIndex = kernel.operandIndex("query");
    bool staged = queryIndex < 0 || queryIndex >= numOperands || operands[queryIndex].rank != 4 ||
                  operands[queryIndex].shape[2] > gpu.subgroupRows; // the subgroup form takes the rest
    if (staged && keyIndex >= 0 && keyIndex < numOperands && operands[keyIndex].rank == 4) {
      int64_t keys = operands[keyIndex].shape[2], headDim = operands[keyIndex].shape[3];
      constexpr int64_t kLimit = 131072; // keys * head_dim checked correct on llvmpipe
      if (keys * headDim > kLimit)
        return failure(llvm::formatv(
            "kernel '{0}': {1} keys of head dim {2} exceed what {3} runs in one invocation of the staged form "
            "(llvmpipe stops shader loops after 65535 iterations; keys x head dim may reach {4}); recompile "
            "with xfc --gpu-stage-kv=false for this device",
            kernel.name, keys, headDim, context.vulkan->name(), kLimit));
    }
  }
  VulkanKernel launch;
  launch.spirv = module.entryPoints[kernelIndex].binary;
  launch.spirvBytes = static_cast<size_t>(gpu.binarySize);
  launch.entryPoint = gpu.entryPoint;
  launch.workgroupSize = static_cast<uint32_t>(gpu.workgroupSize);
  launch.numBuffers = static_cast<uint32_t>(numOperands);
  launch.numPushConstants = static_cast<uint32_t>(plan.shapes.size());
  launch.subgroupLanes = static_cast<uint32_t>(gpu.subgroupLanes);
  launch.workgroupMemory = static_cast<uint64_t>(gpu.workgroupMemory);
  if (llvm::Error err = context.vulkan->dispatch(launch, bindings, plan.shapes, static_cast<uint32_t>(groups)))
    return failure("kernel '" + kernel.name + "' on " + context.vulkan->name() + ": " + llvm::toString(std::move(err)));
  return nullptr;
}

xfrt_status runKernel(xfrt_context *context, const xfrt_module *module, const char *kernelName,
                      const xfrt_tensor *operands, int64_t numOperands, llvm::ArrayRef<OperandPitch> pitches) {
  if (!context)
    return failure("xfrt_kernel_run: 'context' is NULL");
  if (!module)
    return failure("xfrt_kernel_run: 'module' is NULL");
  int64_t kernelIndex = findKernelIndex(*module, kernelName);
  if (kernelIndex < 0)
    return failure(describeMissingKernel(*module, kernelName));
  const KernelInfo &kernel = module->info.kernels[kernelIndex];

  if (std::optional<std::string> problem = checkCall(kernel, operands, numOperands))
    return failure(std::move(*problem));
  if (kernel.gpu && module->info.target == "cuda")
    return runOnCuda(*context, *module, kernelIndex, operands, numOperands, pitches);
  if (kernel.gpu)
    return runOnVulkan(*context, *module, kernelIndex, operands, numOperands, pitches);
  if (!pitches.empty())
    return failure("kernel '" + kernel.name + "' is a CPU kernel; pitches apply to GPU kernels");

  std::vector<MemRefDescriptor> descriptors(operands, operands + numOperands);
  return runChecked(*context, *module, kernelIndex, descriptors);
}

} // namespace

xfrt_status xf::rt::runChecked(xfrt_context &context, const xfrt_module &module, int64_t kernelIndex,
                               std::vector<MemRefDescriptor> &descriptors) {
  const KernelInfo &kernel = module.info.kernels[kernelIndex];
  const xfrt_module_s::EntryPoints &entryPoints = module.entryPoints[kernelIndex];
  if (kernel.gpu)
    return failure("kernel '" + kernel.name + "' is compiled for " + module.info.target +
                   "; models run on cpu modules only for now");
  int64_t numWorkItems = callWorkItems(entryPoints.workItems, descriptors);
  if (numWorkItems < 0)
    return failure(llvm::formatv("kernel '{0}': work item count is {1} (a bug in the compiled kernel)",
                                 kernel.name, numWorkItems));
  ThreadPool &threadPool = context.threadPool;
  threadPool.parallelFor(numWorkItems, chunkSizeFor(numWorkItems, threadPool.numThreads()),
                         [&](int64_t begin, int64_t end) { callEntry(entryPoints.entry, descriptors, begin, end); });
  return nullptr;
}

extern "C" xfrt_status xfrt_kernel_run(xfrt_context *context, const xfrt_module *module, const char *kernel,
                                       const xfrt_tensor *operands, int64_t num_operands) {
  return guarded("xfrt_kernel_run", [&] { return runKernel(context, module, kernel, operands, num_operands, {}); });
}

xfrt_status xf::rt::runKernelPitched(xfrt_context *context, const xfrt_module *module, const char *kernel,
                                     const xfrt_tensor *operands, int64_t numOperands,
                                     llvm::ArrayRef<OperandPitch> pitches) {
  return guarded("xfrt_kernel_run", [&] { return runKernel(context, module, kernel, operands, numOperands, pitches); });
}
