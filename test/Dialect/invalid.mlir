// RUN: xf-opt %s -split-input-file -verify-diagnostics

func.func @kv_heads_divide(%q: tensor<1x32x4x64xf32>, %k: tensor<1x3x4x64xf32>, %o: tensor<1x32x4x64xf32>) -> tensor<1x32x4x64xf32> {
  // expected-error @+1 {{'xf.attention' op kv heads (3) must divide query heads (32)}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x32x4x64xf32>, tensor<1x3x4x64xf32>, tensor<1x3x4x64xf32>) outs(%o : tensor<1x32x4x64xf32>) {num_heads = 32, num_kv_heads = 3, scale = 1.0 : f64} -> tensor<1x32x4x64xf32>
  return %r : tensor<1x32x4x64xf32>
}

// -----

func.func @rank(%q: tensor<32x4x64xf32>, %k: tensor<1x8x4x64xf32>, %o: tensor<32x4x64xf32>) -> tensor<32x4x64xf32> {
  // expected-error @+1 {{query must have rank 4 [batch, heads, seq, head_dim], got rank 3}}
  %r = xf.attention ins(%q, %k, %k : tensor<32x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>) outs(%o : tensor<32x4x64xf32>) {num_heads = 32, num_kv_heads = 8, scale = 1.0 : f64} -> tensor<32x4x64xf32>
  return %r : tensor<32x4x64xf32>
}

// -----

func.func @mixed(%q: tensor<1x4x4x64xf32>, %k: memref<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{key must be a tensor like the query or a memref like the query, not a mix}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x4x4x64xf32>, memref<1x4x4x64xf32>, memref<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @element_type(%q: tensor<1x4x4x64xf32>, %k: tensor<1x4x4x64xf64>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{key element type 'f64' differs from the query element type 'f32'; only f32, bf16 and f16 may be mixed}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf64>, tensor<1x4x4x64xf64>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

// 16-bit operands compute in f32: the sinks and the score region's z are f32.
func.func @bf16_sinks(%q: tensor<1x4x4x64xbf16>, %k: tensor<1x4x4x64xbf16>, %s: tensor<4xbf16>, %o: tensor<1x4x4x64xbf16>) -> tensor<1x4x4x64xbf16> {
  // expected-error @+1 {{sinks element type 'bf16' differs from the compute type 'f32'}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x4x4x64xbf16>, tensor<1x4x4x64xbf16>, tensor<1x4x4x64xbf16>) sinks(%s : tensor<4xbf16>) outs(%o : tensor<1x4x4x64xbf16>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xbf16>
  return %r : tensor<1x4x4x64xbf16>
}

// -----

func.func @f16_score_type(%q: tensor<1x4x4x64xf32>, %k: tensor<1x4x4x64xf16>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{score region must take (z: compute type, b, h, i, j: index)}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf16>, tensor<1x4x4x64xf16>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} score {
  ^bb0(%z: f16, %b: index, %h: index, %i: index, %j: index):
    xf.yield %z : f16
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @integer_elements(%q: tensor<1x4x4x64xi32>, %o: tensor<1x4x4x64xi32>) -> tensor<1x4x4x64xi32> {
  // expected-error @+1 {{query must have a float element type, got 'i32'}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xi32>, tensor<1x4x4x64xi32>, tensor<1x4x4x64xi32>) outs(%o : tensor<1x4x4x64xi32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xi32>
  return %r : tensor<1x4x4x64xi32>
}

// -----

func.func @tensor_result(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) {
  // expected-error @+1 {{on tensors must return exactly one result of the output type 'tensor<1x4x4x64xf32>'}}
  xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  return
}

// -----

func.func @memref_result(%q: memref<1x4x4x64xf32>, %o: memref<1x4x4x64xf32>) {
  // expected-error @+1 {{on memrefs must not return results}}
  %r = xf.attention ins(%q, %q, %q : memref<1x4x4x64xf32>, memref<1x4x4x64xf32>, memref<1x4x4x64xf32>) outs(%o : memref<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return
}

// -----

func.func @num_heads_positive(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{num_heads must be positive, got 0}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 0, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @num_kv_heads_positive(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{num_kv_heads must be positive, got -2}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = -2, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @query_heads(%q: tensor<1x8x4x64xf32>, %k: tensor<1x4x4x64xf32>, %o: tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{query heads dim (8) must equal num_heads (4)}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x8x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x8x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x8x4x64xf32>
  return %r : tensor<1x8x4x64xf32>
}

// -----

func.func @output_heads(%q: tensor<1x4x4x64xf32>, %o: tensor<1x2x4x64xf32>) -> tensor<1x2x4x64xf32> {
  // expected-error @+1 {{output heads dim (2) must equal num_heads (4)}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x2x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x2x4x64xf32>
  return %r : tensor<1x2x4x64xf32>
}

// -----

func.func @key_heads(%q: tensor<1x4x4x64xf32>, %k: tensor<1x?x4x64xf32>, %v: tensor<1x2x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{key heads dim (?) must equal num_kv_heads (2)}}
  %r = xf.attention ins(%q, %k, %v : tensor<1x4x4x64xf32>, tensor<1x?x4x64xf32>, tensor<1x2x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @value_heads(%q: tensor<1x4x4x64xf32>, %k: tensor<1x2x4x64xf32>, %v: tensor<1x1x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{value heads dim (1) must equal num_kv_heads (2)}}
  %r = xf.attention ins(%q, %k, %v : tensor<1x4x4x64xf32>, tensor<1x2x4x64xf32>, tensor<1x1x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @dynamic_head_dim(%q: tensor<1x4x4x?xf32>, %k: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{query head_dim (dim 3) must be static}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x4x4x?xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @qk_head_dim(%q: tensor<1x4x4x64xf32>, %k: tensor<1x4x4x32xf32>, %v: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{query head_dim (64) must equal key head_dim (32)}}
  %r = xf.attention ins(%q, %k, %v : tensor<1x4x4x64xf32>, tensor<1x4x4x32xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @vo_head_dim(%q: tensor<1x4x4x64xf32>, %v: tensor<1x4x4x80xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{value head_dim (80) must equal output head_dim (64)}}
  %r = xf.attention ins(%q, %q, %v : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x80xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @batch(%q: tensor<2x4x4x64xf32>, %k: tensor<3x4x4x64xf32>, %o: tensor<2x4x4x64xf32>) -> tensor<2x4x4x64xf32> {
  // expected-error @+1 {{query and key disagree on batch (2 vs 3)}}
  %r = xf.attention ins(%q, %k, %k : tensor<2x4x4x64xf32>, tensor<3x4x4x64xf32>, tensor<3x4x4x64xf32>) outs(%o : tensor<2x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<2x4x4x64xf32>
  return %r : tensor<2x4x4x64xf32>
}

// -----

func.func @key_value_length(%q: tensor<1x4x4x64xf32>, %k: tensor<1x4x9x64xf32>, %v: tensor<1x4x8x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{key and value disagree on key sequence length (9 vs 8)}}
  %r = xf.attention ins(%q, %k, %v : tensor<1x4x4x64xf32>, tensor<1x4x9x64xf32>, tensor<1x4x8x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @query_output_length(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x5x64xf32>) -> tensor<1x4x5x64xf32> {
  // expected-error @+1 {{query and output disagree on query sequence length (4 vs 5)}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x5x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x5x64xf32>
  return %r : tensor<1x4x5x64xf32>
}

// -----

func.func @scale(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{scale must be finite and non-zero, got 0}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @window(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{window must be >= 0 (0 disables it), got -1}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, window = -1} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @score_signature(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{score region must take (z: compute type, b, h, i, j: index)}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  score {
  ^bb0(%z: f32, %i: index):
    xf.yield %z : f32
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @score_yield(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{score region must yield exactly one 'f32'}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    xf.yield %i : index
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @mask_signature(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{mask region must take (b, h, i, j: index)}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  mask {
  ^bb0(%b: index, %h: index, %i: i32, %j: index):
    %t = arith.constant true
    xf.yield %t : i1
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @mask_yield(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{mask region must yield exactly one 'i1'}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %z = arith.constant 0.0 : f32
    xf.yield %z : f32
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @mask_blocks(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{mask region must have exactly one block}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %t = arith.constant true
    xf.yield %t : i1
  ^bb1:
    %f = arith.constant false
    xf.yield %f : i1
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @region_side_effects(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    // expected-error @+1 {{has side effects, which are not allowed in the score region of xf.attention}}
    %m = memref.alloc() : memref<4xf32>
    xf.yield %z : f32
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @region_isolated(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>, %c: f32) -> tensor<1x4x4x64xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    // expected-error @+1 {{using value defined outside the region}}
    %s = arith.addf %z, %c : f32
    xf.yield %s : f32
  } -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @yield_parent(%x: f32) -> f32 {
  // expected-error @+1 {{'xf.yield' op expects parent op 'xf.attention'}}
  xf.yield %x : f32
}

// -----

func.func @sinks_shape(%q: tensor<1x4x4x64xf32>, %s: tensor<3xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{sinks dim 0 (3) must match query dim 1 (4); sinks is [heads]}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) sinks(%s : tensor<3xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @gates_rank(%q: tensor<1x4x4x64xf32>, %g: tensor<1x4xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{gates must be [heads] or [batch, heads, seq], got rank 2}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) gates(%g : tensor<1x4xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @alpha_seq(%q: tensor<1x4x4x64xf32>, %a: tensor<1x4x5xf32>, %ama: tensor<4xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{alpha dim 2 (5) must match query dim 2 (4); alpha is [batch, heads, seq]}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) affine(%a, %ama : tensor<1x4x5xf32>, tensor<4xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @activation(%q: tensor<1x4x4x64xf32>, %a: tensor<1x4x4xf32>, %ama: tensor<4xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{alpha_activation must be none, linear_clip or sigmoid, got 'relu'}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) affine(%a, %ama : tensor<1x4x4xf32>, tensor<4xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, alpha_activation = "relu"} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @sink_tokens_window(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{sink_tokens (4) need a window: streaming attention keeps sink tokens plus a window}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, sink_tokens = 4} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @sinks_mixed(%q: tensor<1x4x4x64xf32>, %s: memref<4xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{sinks must be a tensor like the query or a memref like the query, not a mix}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) sinks(%s : memref<4xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @rope_dims(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{rotary_dim (65) must be even, >= 2 and at most head_dim (64)}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 65} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_base(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{base must be > 1, or 0 for auto, got 5.000000e-01}}
  %r = xf.rope %q, %pos {base = 0.5 : f64, rotary_dim = 64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_positions(%q: tensor<1x4x8x64xf32>, %pos: tensor<7xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{positions (7) must match the input's seq dim (8)}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64} : tensor<1x4x8x64xf32>, tensor<7xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @router_top_k(%x: tensor<1x?x64xf32>, %wr: tensor<6x64xf32>, %ws: tensor<2x64xf32>, %wh: tensor<2x64xf32>, %g: tensor<1x8x?xf32>) -> tensor<1x8x?xf32> {
  // expected-error @+1 {{top_k (7) must be in [1, 6 routed heads]}}
  %r = xf.moh_router ins(%x, %wr, %ws, %wh : tensor<1x?x64xf32>, tensor<6x64xf32>, tensor<2x64xf32>, tensor<2x64xf32>) outs(%g : tensor<1x8x?xf32>) {shared_heads = 2, top_k = 7} -> tensor<1x8x?xf32>
  return %r : tensor<1x8x?xf32>
}

// -----

func.func @router_heads(%x: tensor<1x?x64xf32>, %wr: tensor<6x64xf32>, %ws: tensor<2x64xf32>, %wh: tensor<2x64xf32>, %g: tensor<1x9x?xf32>) -> tensor<1x9x?xf32> {
  // expected-error @+1 {{output heads dim (9) must equal shared + routed heads (8)}}
  %r = xf.moh_router ins(%x, %wr, %ws, %wh : tensor<1x?x64xf32>, tensor<6x64xf32>, tensor<2x64xf32>, tensor<2x64xf32>) outs(%g : tensor<1x9x?xf32>) {shared_heads = 2, top_k = 3} -> tensor<1x9x?xf32>
  return %r : tensor<1x9x?xf32>
}

// -----

func.func @router_features(%x: tensor<1x?x64xf32>, %wr: tensor<6x32xf32>, %ws: tensor<2x64xf32>, %wh: tensor<2x64xf32>, %g: tensor<1x8x?xf32>) -> tensor<1x8x?xf32> {
  // expected-error @+1 {{w_routed must be [static rows, 64 input features], got 'tensor<6x32xf32>'}}
  %r = xf.moh_router ins(%x, %wr, %ws, %wh : tensor<1x?x64xf32>, tensor<6x32xf32>, tensor<2x64xf32>, tensor<2x64xf32>) outs(%g : tensor<1x8x?xf32>) {shared_heads = 2, top_k = 3} -> tensor<1x8x?xf32>
  return %r : tensor<1x8x?xf32>
}

// -----

func.func @calibration_pair(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{sink calibration needs both calibrated_keys and calibrated_heads}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, calibrated_keys = array<i64: 1>} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @calibration_order(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{calibrated_keys must be strictly increasing}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, calibrated_keys = array<i64: 2, 1>, calibrated_heads = array<i64: 0>} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @calibration_head(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{calibrated head 4 is out of range [0, 4)}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, calibrated_keys = array<i64: 1>, calibrated_heads = array<i64: 4>} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @calibration_beta(%q: tensor<1x4x4x64xf32>, %o: tensor<1x4x4x64xf32>) -> tensor<1x4x4x64xf32> {
  // expected-error @+1 {{calibration_beta must be in [0, 1], got 1.5}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) outs(%o : tensor<1x4x4x64xf32>) {num_heads = 4, num_kv_heads = 4, scale = 1.0 : f64, calibrated_keys = array<i64: 1>, calibrated_heads = array<i64: 0>, calibration_beta = 1.5 : f64} -> tensor<1x4x4x64xf32>
  return %r : tensor<1x4x4x64xf32>
}

// -----

func.func @rope_factor(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{scaling 'linear' needs a positive factor, got 0.000000e+00}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64, scaling = "linear", factor = 0.0 : f64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_original(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{scaling 'yarn' needs original_max_position > 0, got 0}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64, scaling = "yarn", factor = 4.0 : f64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_llama3(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{llama3 scaling needs 0 < low_freq_factor < high_freq_factor, got 4.000000e+00 and 1.000000e+00}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64, scaling = "llama3", factor = 8.0 : f64, original_max_position = 8192, low_freq_factor = 4.0 : f64, high_freq_factor = 1.0 : f64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_yarn_betas(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{yarn scaling needs 0 < beta_slow < beta_fast, got 3.200000e+01 and 1.000000e+00}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64, scaling = "yarn", factor = 4.0 : f64, original_max_position = 4096, beta_fast = 1.0 : f64, beta_slow = 32.0 : f64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_longrope_lists(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{longrope scaling needs long_factor with rotary_dim / 2 (4) entries, got 2}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 8, scaling = "longrope", factor = 4.0 : f64, original_max_position = 4096, short_factor = array<f64: 1.0, 1.0, 1.0, 1.0>, long_factor = array<f64: 2.0, 2.0>} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_longrope_positive(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{short_factor entries must be positive}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 4, scaling = "longrope", factor = 4.0 : f64, original_max_position = 4096, short_factor = array<f64: 1.0, -1.0>, long_factor = array<f64: 2.0, 2.0>} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_factor_lists_elsewhere(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{short_factor and long_factor belong to longrope scaling, not 'none'}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 4, short_factor = array<f64: 1.0, 1.0>} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_attention_factor(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{attention_factor must be positive, got -1.000000e+00}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64, attention_factor = -1.0 : f64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @embed_table(%t: tensor<10x4x2xf32>, %ids: tensor<3xi32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{table must be a 2-D float tensor [vocab, hidden], got}}
  %r = xf.embed %t[%ids] : tensor<10x4x2xf32>, tensor<3xi32> -> tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

// -----

func.func @embed_ids(%t: tensor<10x4xf32>, %ids: tensor<3xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{ids must have a signless integer element type, got 'f32'}}
  %r = xf.embed %t[%ids] : tensor<10x4xf32>, tensor<3xf32> -> tensor<3x4xf32>
  return %r : tensor<3x4xf32>
}

// -----

func.func @embed_result_float(%t: tensor<10x4xf32>, %ids: tensor<3xi32>) -> tensor<3x4xi32> {
  // expected-error @+1 {{result must have a float element type, got 'i32'}}
  %r = xf.embed %t[%ids] : tensor<10x4xf32>, tensor<3xi32> -> tensor<3x4xi32>
  return %r : tensor<3x4xi32>
}

// -----

func.func @embed_rank(%t: tensor<10x4xf32>, %ids: tensor<2x3xi32>) -> tensor<6x4xf32> {
  // expected-error @+1 {{result rank (2) must be the ids rank plus one (3): the ids' shape followed by hidden}}
  %r = xf.embed %t[%ids] : tensor<10x4xf32>, tensor<2x3xi32> -> tensor<6x4xf32>
  return %r : tensor<6x4xf32>
}

// -----

func.func @embed_dims(%t: tensor<10x4xf32>, %ids: tensor<3xi32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{result dim 0 (5) must equal ids dim 0 (3)}}
  %r = xf.embed %t[%ids] : tensor<10x4xf32>, tensor<3xi32> -> tensor<5x4xf32>
  return %r : tensor<5x4xf32>
}

// -----

func.func @embed_hidden(%t: tensor<10x4xf32>, %ids: tensor<3xi32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{result's last dim (8) must equal the table's hidden size (4)}}
  %r = xf.embed %t[%ids] : tensor<10x4xf32>, tensor<3xi32> -> tensor<3x8xf32>
  return %r : tensor<3x8xf32>
}

// -----

func.func @embed_scale(%t: tensor<10x4xf32>, %ids: tensor<3xi32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{scale must be positive and finite, got 0.000000e+00}}
  %r = xf.embed %t[%ids] {scale = 0.0 : f64} : tensor<10x4xf32>, tensor<3xi32> -> tensor<3x4xf32>
  return %r : tensor<3x4xf32>
}

// -----

func.func @rms_norm_input(%x: tensor<?x64xi32>, %w: tensor<64xf32>) -> tensor<?x64xi32> {
  // expected-error @+1 {{input must be a float tensor of rank >= 1, got}}
  %r = xf.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xi32>, tensor<64xf32> -> tensor<?x64xi32>
  return %r : tensor<?x64xi32>
}

// -----

func.func @rms_norm_result(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf16> {
  // expected-error @+1 {{result type 'tensor<?x64xf16>' must equal the input type 'tensor<?x64xf32>'}}
  %r = xf.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf16>
  return %r : tensor<?x64xf16>
}

// -----

func.func @rms_norm_features(%x: tensor<4x?xf32>, %w: tensor<64xf32>) -> tensor<4x?xf32> {
  // expected-error @+1 {{input's last dim (the normalized features) must be static}}
  %r = xf.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<4x?xf32>, tensor<64xf32> -> tensor<4x?xf32>
  return %r : tensor<4x?xf32>
}

// -----

func.func @rms_norm_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{weight must be a float tensor of the input's last dim (64 entries) or of its last two static dims, got 'tensor<32xf32>'}}
  %r = xf.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<32xf32> -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @rms_norm_head_gains(%x: tensor<?x?x8x64xf32>, %w: tensor<4x64xf32>) -> tensor<?x?x8x64xf32> {
  // expected-error @+1 {{weight must be a float tensor of the input's last dim (64 entries) or of its last two static dims, got 'tensor<4x64xf32>'}}
  %r = xf.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x?x8x64xf32>, tensor<4x64xf32> -> tensor<?x?x8x64xf32>
  return %r : tensor<?x?x8x64xf32>
}

// -----

func.func @layer_norm_gains_rank(%x: tensor<2x8x64xf32>, %w: tensor<2x8x64xf32>) -> tensor<2x8x64xf32> {
  // expected-error @+1 {{weight must be a float tensor of the input's last dim (64 entries) or of its last two static dims, got 'tensor<2x8x64xf32>'}}
  %r = xf.layer_norm %x, %w {eps = 1.0e-05 : f64} : tensor<2x8x64xf32>, tensor<2x8x64xf32> -> tensor<2x8x64xf32>
  return %r : tensor<2x8x64xf32>
}

// -----

func.func @rms_norm_eps(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{eps must be in (0, 1], got 0.000000e+00}}
  %r = xf.rms_norm %x, %w {eps = 0.0 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @layer_norm_bias(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %b: tensor<64x1xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{bias must be a float tensor of the input's last dim (64 entries) or of its last two static dims, got 'tensor<64x1xf32>'}}
  %r = xf.layer_norm %x, %w, %b {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64x1xf32> -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @layer_norm_weight(%x: tensor<?x64xf32>, %w: tensor<64xi8>) -> tensor<?x64xf32> {
  // expected-error @+1 {{weight must be a float tensor of the input's last dim (64 entries) or of its last two static dims, got 'tensor<64xi8>'}}
  %r = xf.layer_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xi8> -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @layer_norm_eps(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{eps must be in (0, 1], got 2.000000e+00}}
  %r = xf.layer_norm %x, %w {eps = 2.0 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_input(%x: tensor<?x?xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x?xf32> {
  // expected-error @+1 {{input must be a float tensor [tokens, hidden] with a static hidden size, got 'tensor<?x?xf32>'}}
  %r = xf.moe %x, %l : tensor<?x?xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2} -> tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}

// -----

func.func @moe_result(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<8x64xf32> {
  // expected-error @+1 {{result type 'tensor<8x64xf32>' must equal the input type 'tensor<?x64xf32>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2} -> tensor<8x64xf32>
  return %r : tensor<8x64xf32>
}

// -----

func.func @moe_logits(%x: tensor<?x64xf32>, %l: tensor<?x?xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{router_logits must be [tokens, experts] with a static expert count and the input's element type, got 'tensor<?x?xf32>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x?xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_tokens(%x: tensor<4x64xf32>, %l: tensor<3x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<4x64xf32> {
  // expected-error @+1 {{router_logits tokens (3) must equal the input's (4)}}
  %r = xf.moe %x, %l : tensor<4x64xf32>, tensor<3x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2} -> tensor<4x64xf32>
  return %r : tensor<4x64xf32>
}

// -----

func.func @moe_up(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x?xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{up must be [experts, hidden, intermediate] with a static intermediate size, got 'tensor<4x64x?xbf16>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> up(%u : tensor<4x64x?xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_down(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x64x32xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{down must be a float tensor [experts, intermediate, hidden] = [4, 32, 64], got 'tensor<4x64x32xbf16>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x64x32xbf16>) {top_k = 2} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_gate_experts(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<8x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{gate must be a float tensor [experts, hidden, intermediate] = [4, 64, 32], got 'tensor<8x64x32xbf16>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<8x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_bias(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>, %b: tensor<4x32xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{down_bias must be a float tensor [experts, hidden] = [4, 64], got 'tensor<4x32xbf16>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) down_bias(%b : tensor<4x32xbf16>) {top_k = 2} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_gate_bias(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>, %b: tensor<4x32xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{gate_bias needs a gate (a gated MLP)}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) gate_bias(%b : tensor<4x32xbf16>) {top_k = 2} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_top_k(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{top_k (5) must be in [1, 4 experts]}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 5} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_activation(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{activation must be silu, gelu, gelu_tanh or relu, got 'tanh'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, activation = "tanh"} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_limit_gate(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{limit (clamped SwiGLU) needs a gate (a gated MLP)}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, limit = 7.0 : f64} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_limit(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{limit must be positive, got 0.000000e+00}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, limit = 0.0 : f64} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @rope_rank(%q: tensor<4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<4x8x64xf32> {
  // expected-error @+1 {{input must have rank 4 [batch, heads, seq, head_dim], got rank 3}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64} : tensor<4x8x64xf32>, tensor<8xi64> -> tensor<4x8x64xf32>
  return %r : tensor<4x8x64xf32>
}

// -----

func.func @rope_result(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf16> {
  // expected-error @+1 {{result type 'tensor<1x4x8x64xf16>' must equal the input type 'tensor<1x4x8x64xf32>'}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf16>
  return %r : tensor<1x4x8x64xf16>
}

// -----

func.func @rope_positions_type(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi32>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{positions must be a 1-D tensor of i64, got 'tensor<8xi32>'}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64} : tensor<1x4x8x64xf32>, tensor<8xi32> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @rope_scaling(%q: tensor<1x4x8x64xf32>, %pos: tensor<8xi64>) -> tensor<1x4x8x64xf32> {
  // expected-error @+1 {{unknown scaling 'ntk'}}
  %r = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64, scaling = "ntk"} : tensor<1x4x8x64xf32>, tensor<8xi64> -> tensor<1x4x8x64xf32>
  return %r : tensor<1x4x8x64xf32>
}

// -----

func.func @moe_router(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{router must be softmax, sigmoid or sparsemixer, got 'relu'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, router = "relu"} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_norm_min(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{norm_min must be >= 0 and needs norm_top_k, got 1.000000e-12}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, norm_top_k = false, norm_min = 1.0e-12 : f64} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_groups(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{groups (4) must divide the 4 experts into groups of at least 2}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, router = "sigmoid", groups = 4} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_top_groups(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{top_groups (3) must be in [1, 2 groups]}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, router = "sigmoid", groups = 2, top_groups = 3} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_selection_bias(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>, %c: tensor<8xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{selection_bias must be a float tensor [experts] or [1, experts] with 4 experts, got 'tensor<8xf32>'}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) selection_bias(%c : tensor<8xf32>) {top_k = 2, router = "sigmoid"} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_routed_scale(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{routed_scale must be positive, got -1}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, router = "sigmoid", routed_scale = -1.0 : f64} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_sparsemixer(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{router sparsemixer picks top_k = 2 experts without selection_bias, groups, routed_scale or norm_min}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 3, router = "sparsemixer"} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

func.func @moe_jitter(%x: tensor<?x64xf32>, %l: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>) -> tensor<?x64xf32> {
  // expected-error @+1 {{jitter_eps must be >= 0, got -1}}
  %r = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 2, router = "sparsemixer", jitter_eps = -1.0 : f64} -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}
