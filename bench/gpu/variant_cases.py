#!/usr/bin/env python3
"""Every attention variant for the GPU kit, with references made here.

For each variant set (the passes of VARIANTS.md with the flags the variant tests use), compiles one
attention kernel for cpu, cuda and vulkan, makes seeded inputs for every operand it declares (sinks, the
affine scale's alpha, per-token gates, ...) at a decode and a prefill shape, and runs the CPU kernel on
them: its output is the reference the GPU kernels are held to (test/unit/VariantNumericsTest checks the
CPU kernels of these flags against the float64 oracle). Writes <out>/cases.json for bench/gpu/run.py.

  variant_cases.py --xfc build/bin/xfc --xf-run build/bin/xf-run --out .gpu/variants
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

SPEC = """attention attn {
  heads = 8; kv_heads = 2; head_dim = 64
  causal = true
  window = %s
}
"""

# (name, window, xfc --variant flags): alone, and stacked as the variant tests stack them.
CASES = [
    ("sinks", 0, ["xf-attention-sinks{mode=learned}"]),
    ("streaming", 50, ["xf-attention-sinks{mode=streaming sink-tokens=3}"]),
    ("act", 0, ["xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}"]),
    ("gains_emphasis", 0, ["xf-head-modulation{heads=1,2 gain=2.0 emphasis-keys=0,4 emphasis=0.7}"]),
    ("moh", 0, ["xf-mixture-of-heads{shared-heads=1 top-k=2 hidden=16}"]),
    ("affine", 0, ["xf-affine-scale{activation=linear_clip}"]),
    ("act_affine_sinks", 0, ["xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}",
                             "xf-attention-sinks{mode=learned}", "xf-affine-scale{activation=linear_clip}"]),
    ("streaming_affine_sinks", 24, ["xf-attention-sinks{mode=learned}",
                                    "xf-attention-sinks{mode=streaming sink-tokens=3}",
                                    "xf-affine-scale{activation=linear_clip}"]),
]
# (B, S, T): a decode step over 300 keys (the subgroup form, its keys split) and a 37-row prefill.
SHAPES = [(2, 1, 300), (1, 37, 301)]
H, HKV, D = 8, 2, 64


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        sys.exit("variant_cases: %s failed:\n%s" % (" ".join(args), p.stdout + p.stderr))
    return p.stdout


def operands(xf_run, module):
    """The kernel's operand names in order, from `xf-run list`."""
    names, inside = [], False
    for line in run([xf_run, "list", module]).splitlines():
        if line.strip() == "operands:":
            inside = True
        elif inside and line.startswith("    "):
            names.append(line.split()[0])
        elif inside:
            break
    return names


def make_inputs(names, B, S, T, seed):
    rng = np.random.default_rng(seed)
    shapes = {"query": (B, H, S, D), "key": (B, HKV, T, D), "value": (B, HKV, T, D), "sinks": (H,),
              "alpha_ma": (H,), "alpha": (B, H, S), "gates": (B, H, S)}
    arrays = {}
    for name in names[:-1]:
        if name not in shapes:
            sys.exit("variant_cases: unexpected operand '%s'" % name)
        x = rng.standard_normal(shapes[name]).astype(np.float32)
        if name == "sinks":
            x *= 2
        elif name == "alpha":
            x *= 5  # linear clipping saturates on some tokens
        elif name == "alpha_ma":
            x = (0.5 + 0.4 * np.tanh(x)).astype(np.float32)
        elif name == "gates":  # a router's sparse gates: head 0 always, others at random, some never
            heads = np.arange(H).reshape(1, H, 1)
            active = (heads == 0) | ((rng.random(shapes[name]) < 0.4) & (heads % 4 != 3))
            x = np.where(active, np.abs(x) + 0.1, 0).astype(np.float32)
        arrays[name] = x
    return arrays


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfc", required=True)
    ap.add_argument("--xf-run", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cases = []
    for index, (name, window, variants) in enumerate(CASES):
        spec = os.path.join(a.out, "%s.xf" % name)
        with open(spec, "w") as f:
            f.write(SPEC % (window or "none"))
        flags = ["--variant=" + v for v in variants]
        for target in ("cpu", "cuda", "vulkan"):
            run([a.xfc, spec, "--target=" + target, "-o", os.path.join(a.out, "%s-%s.so" % (name, target))] + flags)
        # CUDA with a decode row's keys split over 16 warps of the launch (off by default, not yet run on a GPU).
        run([a.xfc, spec, "--target=cuda", "--xf-subgroup-global-splits=16", "-o",
             os.path.join(a.out, "%s-cuda-gsplit.so" % name)] + flags)
        cpu = os.path.join(a.out, "%s-cpu.so" % name)
        names = operands(a.xf_run, cpu)
        for B, S, T in SHAPES:
            tag = "%s-b%d-s%d-t%d" % (name, B, S, T)
            inputs = {}
            for operand, x in make_inputs(names, B, S, T, 1000 * index + S).items():
                path = os.path.join(a.out, "%s-%s.npy" % (tag, operand))
                np.save(path, x)
                inputs[operand] = os.path.basename(path)
            ref = os.path.join(a.out, "%s-ref.npy" % tag)
            run([a.xf_run, "kernel", cpu, "--kernel", "attn", "-o", ref] +
                [x for n, f in inputs.items() for x in ("--in", "%s=%s" % (n, os.path.join(a.out, f)))])
            cases.append({"name": name, "shape": "B=%d S=%d T=%d" % (B, S, T), "module": name, "inputs": inputs,
                          "reference": os.path.basename(ref)})
    for name, _, _ in CASES:  # the device needs only the GPU modules
        for leftover in ("%s-cpu.so" % name, "%s-cpu.h" % name):
            if os.path.exists(os.path.join(a.out, leftover)):
                os.remove(os.path.join(a.out, leftover))
    with open(os.path.join(a.out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("variant_cases: %d cases in %s" % (len(cases), a.out))


if __name__ == "__main__":
    main()
