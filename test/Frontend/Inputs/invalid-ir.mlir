func.func @attn(%q: tensor<1x4x8x16xf32>, %k: tensor<1x3x8x16xf32>, %o: tensor<1x4x8x16xf32>) -> tensor<1x4x8x16xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %k : tensor<1x4x8x16xf32>, tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>) outs(%o : tensor<1x4x8x16xf32>) {num_heads = 4, num_kv_heads = 3, scale = 0.25 : f64} -> tensor<1x4x8x16xf32>
  return %r : tensor<1x4x8x16xf32>
}
