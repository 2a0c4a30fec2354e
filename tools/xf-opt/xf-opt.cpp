//===- xf-opt.cpp - mlir-opt with the xf dialect, passes and pipelines ----===//
#include "passes/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::xf::registerAllDialects(registry);
  mlir::xf::registerAllPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "xf optimizer driver\n", registry));
}
