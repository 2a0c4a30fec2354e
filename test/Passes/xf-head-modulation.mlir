// RUN: xf-opt %s --xf-head-modulation="heads=1,3 gain=2.0" | FileCheck %s --check-prefix=GAIN
// RUN: xf-opt %s --xf-head-modulation="heads=1,3 gain=2.0" --xf-head-modulation="heads=3 gain=0.5" | FileCheck %s --check-prefix=STACK
// STACK: head_gains = array<f64: 1.000000e+00, 2.000000e+00, 1.000000e+00, 1.000000e+00>
// RUN: xf-opt %s --xf-head-modulation="emphasis-keys=0,5 emphasis=0.3" | FileCheck %s --check-prefix=EMPH
// RUN: not xf-opt %s --xf-head-modulation="heads=9" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: xf-opt %s --xf-head-modulation="emphasis-keys=0 emphasis-rows=last" | FileCheck %s --check-prefix=LAST

// On the last query row only, the composed region takes the key count t (the softcap stays first).
// LAST: score {
// LAST: ^bb0(%[[Z:.+]]: f32, %{{.+}}: index, %{{.+}}: index, %[[I:.+]]: index, %{{.+}}: index, %[[T:.+]]: index):
// LAST:   math.tanh %[[Z]]
// LAST:   arith.subi %[[T]], %c1
// LAST:   arith.cmpi eq, %[[I]]

// GAIN-LABEL: func.func @attn
// GAIN: xf.attention ins({{.+}}) outs(
// GAIN-SAME: head_gains = array<f64: 1.000000e+00, 2.000000e+00, 1.000000e+00, 2.000000e+00>

// Emphasis composes after the existing softcap modifier: tanh first, then z + a|z| on keys 0 and 5.
// EMPH-LABEL: func.func @attn
// EMPH: score {
// EMPH: ^bb0(%[[Z:.+]]: f32, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %[[J:.+]]: index):
// EMPH:   %[[T:.+]] = math.tanh %[[Z]] : f32
// EMPH-DAG:   arith.cmpi eq, %[[J]], %c0
// EMPH-DAG:   arith.cmpi eq, %[[J]], %c5
// EMPH:   %[[ABS:.+]] = math.absf %[[T]] : f32
// EMPH:   %[[E:.+]] = arith.mulf %[[ABS]], %{{.+}} : f32
// EMPH:   %[[ZE:.+]] = arith.addf %[[T]], %[[E]] : f32
// EMPH:   %[[S:.+]] = arith.select %{{.+}}, %[[ZE]], %[[T]] : f32
// EMPH:   xf.yield %[[S]] : f32

// RANGE: error: 'xf.attention' op xf-head-modulation: head 9 is out of range [0, 4)
func.func @attn(%q: tensor<1x4x?x16xf32>, %o: tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32> {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>) outs(%o : tensor<1x4x?x16xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %t = math.tanh %z : f32
    xf.yield %t : f32
  } -> tensor<1x4x?x16xf32>
  return %r : tensor<1x4x?x16xf32>
}
