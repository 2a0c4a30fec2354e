// RUN: xf-opt %s --xf-phase-bounded-rope="context=8192 depth=32" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: xf-opt %s --xf-phase-bounded-rope="context=131072 depth=32 severity=warning" --split-input-file 2>&1 | FileCheck %s --check-prefix=WARN

// Llama 3's base 500000 is inside [25612, 8388608) for 8192 tokens and 32 layers; auto picks the
// geometric middle of the interval.
// CHECK-LABEL: func.func @llama
// CHECK: xf.rope %{{.+}}, %{{.+}} {base = 5.000000e+05 : f64, rotary_dim = 128 : i64}
// CHECK: xf.rope %{{.+}}, %{{.+}} {base = 463518.58{{[0-9]+}} : f64, rotary_dim = 128 : i64}
func.func @llama(%q: tensor<1x32x?x128xf32>, %pos: tensor<?xi64>) -> (tensor<1x32x?x128xf32>, tensor<1x32x?x128xf32>) {
  %a = xf.rope %q, %pos {base = 500000.0 : f64, rotary_dim = 128} : tensor<1x32x?x128xf32>, tensor<?xi64> -> tensor<1x32x?x128xf32>
  %b = xf.rope %q, %pos {base = 0.0 : f64, rotary_dim = 128} : tensor<1x32x?x128xf32>, tensor<?xi64> -> tensor<1x32x?x128xf32>
  return %a, %b : tensor<1x32x?x128xf32>, tensor<1x32x?x128xf32>
}

// -----

// A base of 10000 is too small for 8192 tokens through 32 layers (stability), not for aliasing; for
// 131072 tokens it fails both.
// WARN: warning: RoPE base 10000 fails for context 131072, depth 32 (eps 0.1, 23-bit angles): aliasing: the slowest dimension wraps within the context (needs base > 28752); DC stability: {{.*}}(needs base >= 527850); feasible bases: [527850, 8388608)
func.func @small_base(%q: tensor<1x8x?x64xf32>, %pos: tensor<?xi64>) -> tensor<1x8x?x64xf32> {
  // expected-error @+1 {{RoPE base 10000 fails for context 8192, depth 32 (eps 0.1, 23-bit angles): DC stability: positions drift apart by more than eps through the layers (needs base >= 30168); feasible bases: [30168, 8388608)}}
  %a = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 64} : tensor<1x8x?x64xf32>, tensor<?xi64> -> tensor<1x8x?x64xf32>
  return %a : tensor<1x8x?x64xf32>
}

// -----

// Above 2^23 fp32 angles cannot tell adjacent positions apart.
func.func @huge_base(%q: tensor<1x8x?x64xf32>, %pos: tensor<?xi64>) -> tensor<1x8x?x64xf32> {
  // expected-error @+1 {{precision: adjacent positions become indistinguishable in the slowest dimensions (needs base < 8388608); feasible bases: [30168, 8388608)}}
  %a = xf.rope %q, %pos {base = 1.0e9 : f64, rotary_dim = 64} : tensor<1x8x?x64xf32>, tensor<?xi64> -> tensor<1x8x?x64xf32>
  return %a : tensor<1x8x?x64xf32>
}
