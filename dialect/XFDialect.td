//===- XFDialect.td - the xf dialect ------------------------*- tablegen -*-===//
#ifndef XF_DIALECT_TD
#define XF_DIALECT_TD

include "mlir/IR/OpBase.td"

def XF_Dialect : Dialect {
  let name = "xf";
  let summary = "Transformer semantics for the xf compiler";
  let description = [{
    The `xf` dialect carries the transformer concepts that upstream MLIR has no op for. Its centre is
    `xf.attention`, one structured op that expresses plain multi-head, grouped-query and multi-query
    attention and, through operands, attributes and regions, every attention variant that xf supports.
    Everything that is not transformer-specific (dense algebra, elementwise math, loops) is left to the
    upstream dialects. See docs/Rationale.md for the design choices.
  }];
  let cppNamespace = "::mlir::xf";
}

class XF_Op<string mnemonic, list<Trait> traits = []> :
    Op<XF_Dialect, mnemonic, traits>;

#endif // XF_DIALECT_TD
