//===- XFOps.h - xf dialect operations ------------------------------------===//
#ifndef XF_DIALECT_XFOPS_H
#define XF_DIALECT_XFOPS_H

#include "dialect/XFDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/XFOps.h.inc"

#endif // XF_DIALECT_XFOPS_H
