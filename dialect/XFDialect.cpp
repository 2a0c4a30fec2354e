//===- XFDialect.cpp - the xf dialect -------------------------------------===//
#include "dialect/XFDialect.h"
#include "dialect/XFOps.h"

using namespace mlir;
using namespace mlir::xf;

#include "dialect/XFOpsDialect.cpp.inc"

void XFDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/XFOps.cpp.inc"
      >();
}
