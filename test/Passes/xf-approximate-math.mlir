// RUN: xf-opt %s --xf-approximate-math | FileCheck %s

// CHECK-LABEL: func.func @softmax_exp
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: math.fma
// CHECK: return %{{.+}}, %{{.+}} : vector<16xf32>, f32
func.func @softmax_exp(%x: vector<16xf32>, %y: f32) -> (vector<16xf32>, f32) {
  %e = math.exp %x : vector<16xf32>
  %t = math.tanh %y : f32
  return %e, %t : vector<16xf32>, f32
}
