// A dense product kernel as xfc wrote them before the GPU products read [out, in] weights: its kernel info
// lacks weights = "out_in".
func.func @old_matmul(%x: memref<?x?xf32>, %w: memref<?x?xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_matmul"}, xf.operand_names = ["input", "weight", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %y, %c0 : memref<?x?xf32>
  scf.parallel (%i) = (%c0) to (%m) step (%c1) {
    memref.store %zero, %y[%i, %c0] : memref<?x?xf32>
    scf.reduce
  }
  return
}
