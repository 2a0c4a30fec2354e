func.func @attn(%q: tensor<?x4x?x32xf32>, %k: tensor<?x2x?x32xf32>, %v: tensor<?x2x?x32xf32>, %o: tensor<?x4x?x32xf32>) -> tensor<?x4x?x32xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x4x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>) outs(%o : tensor<?x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.17677669529663687 : f64, causal = true} -> tensor<?x4x?x32xf32>
  return %r : tensor<?x4x?x32xf32>
}
