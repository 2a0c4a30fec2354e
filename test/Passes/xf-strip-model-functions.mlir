// RUN: xf-opt %s --xf-strip-model-functions | FileCheck %s
// RUN: xf-opt %s --xf-cpu-pipeline | FileCheck %s --check-prefix=CPU

// The whole-model functions (xf.entry) go; the kernels they call stay exactly as they were.
// CHECK-LABEL: func.func @m_attention
// CHECK-SAME: (%[[Q:.+]]: tensor<?x4x?x16xf32>, %[[K:.+]]: tensor<?x2x?x16xf32>, %[[V:.+]]: tensor<?x2x?x16xf32>, %[[O:.+]]: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> attributes {xf.kernel, xf.layers = array<i64: 0>}
// CHECK: xf.attention ins(%[[Q]], %[[K]], %[[V]] : {{.+}}) outs(%[[O]] : tensor<?x4x?x16xf32>)
// CHECK-NOT: func.func

// The CPU pipeline starts with this pass, so a module with model functions compiles to the kernels alone.
// CPU: llvm.func @m_attention(
// CPU-NOT: prefill
// CPU-NOT: decode
func.func @m_attention(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
    attributes {xf.kernel, xf.layers = array<i64: 0>} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) outs(%o : tensor<?x4x?x16xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.25 : f64, causal = true} -> tensor<?x4x?x16xf32>
  return %r : tensor<?x4x?x16xf32>
}

func.func @prefill(%tokens: tensor<?x?xi32>, %table: tensor<100x64xbf16> {xf.weight = "model.embed_tokens.weight"},
                   %kc: tensor<?x2x32x16xf32> {xf.kv_cache = {kind = "key", layer = 0 : i64, policy = "full"}})
    -> (tensor<?x?x4x16xf32>, tensor<?x2x32x16xf32>) attributes {xf.entry = "prefill", xf.model = {dtype = bf16, name = "m"}} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %tokens, %c0 : tensor<?x?xi32>
  %s = tensor.dim %tokens, %c1 : tensor<?x?xi32>
  %ids = tensor.collapse_shape %tokens [[0, 1]] : tensor<?x?xi32> into tensor<?xi32>
  %h = xf.embed %table[%ids] : tensor<100x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %q = tensor.expand_shape %h [[0, 1], [2, 3]] output_shape [%b, %s, 4, 16] : tensor<?x64xf32> into tensor<?x?x4x16xf32>
  %qt = tensor.empty(%b, %s) : tensor<?x4x?x16xf32>
  %kv = tensor.empty(%b, %s) : tensor<?x2x?x16xf32>
  %o = tensor.empty(%b, %s) : tensor<?x4x?x16xf32>
  %r = call @m_attention(%qt, %kv, %kv, %o) {xf.layer = 0 : i64} : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %kc1 = tensor.insert_slice %kv into %kc[0, 0, 0, 0] [%b, 2, %s, 16] [1, 1, 1, 1] : tensor<?x2x?x16xf32> into tensor<?x2x32x16xf32>
  return %q, %kc1 : tensor<?x?x4x16xf32>, tensor<?x2x32x16xf32>
}

func.func @decode(%tokens: tensor<?x1xi32>, %position: index) attributes {xf.entry = "decode"} {
  return
}
