//===- RopeBounds.cpp - phase bounds of rotary position embeddings --------===//
#include "passes/RopeBounds.h"

#include <cmath>
#include <sstream>

using namespace mlir::xf;

RopeBounds mlir::xf::computeRopeBounds(const RopeBoundsInput &in) {
  const double d = static_cast<double>(in.rotaryDims), L = static_cast<double>(in.contextLength);
  const double exponent = d / (d - 2.0);
  RopeBounds bounds;
  bounds.aliasingMin = std::pow(L / (2.0 * M_PI), exponent);
  bounds.stabilityMin = std::pow(L / std::acos(std::pow(in.eps, 1.0 / static_cast<double>(in.depth))), exponent);
  bounds.precisionMax = std::ldexp(1.0, static_cast<int>(in.mantissaBits));
  return bounds;
}

static std::string format(double value) {
  std::ostringstream os;
  os.precision(0);
  os << std::fixed << value;
  return os.str();
}

std::string RopeBounds::violations(double base) const {
  std::ostringstream os;
  auto add = [&](const std::string &what) { os << (os.tellp() > 0 ? "; " : "") << what; };
  if (!(base > aliasingMin))
    add("aliasing: the slowest dimension wraps within the context (needs base > " + format(aliasingMin) + ")");
  if (!(base >= stabilityMin))
    add("DC stability: positions drift apart by more than eps through the layers (needs base >= " +
        format(stabilityMin) + ")");
  if (!(base < precisionMax))
    add("precision: adjacent positions become indistinguishable in the slowest dimensions (needs base < " +
        format(precisionMax) + ")");
  return os.str();
}

double RopeBounds::autoBase() const { return std::sqrt(lower() * precisionMax); }
