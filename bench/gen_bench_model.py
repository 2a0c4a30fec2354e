#!/usr/bin/python3
"""Write a random ~100M-parameter llama-style Hugging Face checkpoint for bench/run_model_bench.

    /usr/bin/python3 bench/gen_bench_model.py --out DIR [--seed N] [--preset bench100m|gptoss-slice|qwen3moe-slice]
                                              [--dtype f32|bf16] [--config-only]

DIR/config.json (LlamaForCausalLM) and DIR/model.safetensors (float32, or bfloat16 rounded to nearest even from
the same float32 values, as Hugging Face publishes most checkpoints; HF tensor names). Preset bench100m:
vocab 32000, hidden 768, 12 layers, 12 query heads, 4 kv heads, head_dim 64, intermediate 2048 (SwiGLU),
untied embeddings, RoPE theta 1e4 without scaling, max_position_embeddings 2048: 124.7M parameters
(24.6M embedding + 24.6M lm_head + 12 x 6.3M), 499 MB.

Preset gptoss-slice (bench/run_mxfp4_bench): two layers of gpt-oss-20b at their real sizes (hidden 2880, 64
query heads, 8 kv heads, head_dim 64, 32 experts of intermediate 2880, top-4, sliding window 128 on the first
layer, yarn RoPE as published), vocab 8192, as the model is published: bf16 except the experts, which are
MXFP4 `_blocks` / `_scales` (test/models/gen_tiny_model.py's packing) with `quantization_config` mxfp4;
1.65 G parameters, 1.1 GB. --dtype is ignored for it.

Preset qwen3moe-slice: two layers of Qwen3-30B-A3B at their real sizes (hidden 2048, 32 query heads, 4 kv
heads, head_dim 128 with q/k norms, 128 experts of moe_intermediate_size 768 on every layer, top 8,
norm_topk_prob true, RoPE theta 1e6), vocab 8192, bf16 (or --dtype f32): 1.26 G parameters, 2.5 GB in bf16.

Weights are Gaussian with std 1/sqrt(fan_in) (q and k 1.5/sqrt(fan_in), so attention scores are O(1);
lm_head 2/sqrt(hidden), so the top logits are well separated and greedy tokens do not hinge on rounding),
RMSNorm weights 1 + 0.1 N(0, 1), embeddings N(0, 1). The safetensors writer is the one of
test/models/gen_tiny_model.py (numpy only).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "models"))
from gen_tiny_model import mxfp4_pack, write_safetensors  # noqa: E402

PRESETS = {
    "bench100m": {
        "vocab_size": 32000,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "num_key_value_heads": 4,
        "head_dim": 64,
        "intermediate_size": 2048,
        "max_position_embeddings": 2048,
    },
}


def make_config(preset, dtype):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **PRESETS[preset],
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "torch_dtype": {"f32": "float32", "bf16": "bfloat16"}[dtype],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "use_cache": True,
    }


def make_weights(cfg, seed):
    """The llama-style presets' weights; for qwen3moe-slice also the q/k norms and, instead of the dense MLP,
    the router and every expert (the draws of the others come in the same order either way)."""
    rng = np.random.default_rng(seed)
    V, H, L = cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]
    nH, nKV, D, I = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["intermediate_size"]
    moe = cfg["model_type"] == "qwen3_moe"

    def mat(out, inp, gain=1.0):
        a = rng.standard_normal((out, inp), dtype=np.float32)
        a *= np.float32(gain / np.sqrt(inp))
        return a

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((V, H), dtype=np.float32)}
    for n in range(L):
        p = "model.layers.%d." % n
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
        w[p + "self_attn.q_proj.weight"] = mat(nH * D, H, 1.5)
        w[p + "self_attn.k_proj.weight"] = mat(nKV * D, H, 1.5)
        w[p + "self_attn.v_proj.weight"] = mat(nKV * D, H)
        w[p + "self_attn.o_proj.weight"] = mat(H, nH * D)
        if not moe:
            w[p + "mlp.gate_proj.weight"] = mat(I, H)
            w[p + "mlp.up_proj.weight"] = mat(I, H)
            w[p + "mlp.down_proj.weight"] = mat(H, I)
            continue
        E, Im = cfg["num_experts"], cfg["moe_intermediate_size"]
        w[p + "self_attn.q_norm.weight"] = norm(D)
        w[p + "self_attn.k_norm.weight"] = norm(D)
        w[p + "mlp.gate.weight"] = mat(E, H)
        for e in range(E):
            q = p + "mlp.experts.%d." % e
            w[q + "gate_proj.weight"] = mat(Im, H)
            w[q + "up_proj.weight"] = mat(Im, H)
            w[q + "down_proj.weight"] = mat(H, Im)
    w["model.norm.weight"] = norm(H)
    w["lm_head.weight"] = mat(V, H, 2.0)
    return w


GPTOSS_SLICE = {
    "architectures": ["GptOssForCausalLM"],
    "model_type": "gpt_oss",
    "vocab_size": 8192,
    "hidden_size": 2880,
    "num_hidden_layers": 2,
    "layer_types": ["sliding_attention", "full_attention"],
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "intermediate_size": 2880,
    "num_local_experts": 32,
    "num_experts_per_tok": 4,
    "experts_per_token": 4,
    "swiglu_limit": 7.0,
    "sliding_window": 128,
    "attention_bias": True,
    "rms_norm_eps": 1e-5,
    "rope_theta": 150000,
    "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                     "original_max_position_embeddings": 4096, "truncate": False},
    "max_position_embeddings": 131072,
    "initial_context_length": 4096,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "torch_dtype": "bfloat16",
    "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": [
        "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]},
    "use_cache": True,
}


def make_gptoss_slice(cfg, seed):
    """The weights, experts packed as they are drawn (one layer's float32 experts at a time)."""
    rng = np.random.default_rng(seed)
    V, H, L = cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]
    nH, nKV, D, I, E = (cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"],
                        cfg["intermediate_size"], cfg["num_local_experts"])

    def normal(*shape, std=1.0):
        a = rng.standard_normal(shape, dtype=np.float32)
        a *= np.float32(std)
        return a

    w = {"model.embed_tokens.weight": normal(V, H)}
    for n in range(L):
        p = "model.layers.%d." % n
        w[p + "input_layernorm.weight"] = 1.0 + normal(H, std=0.1)
        w[p + "post_attention_layernorm.weight"] = 1.0 + normal(H, std=0.1)
        for name, rows in (("q_proj", nH * D), ("k_proj", nKV * D), ("v_proj", nKV * D)):
            w[p + "self_attn.%s.weight" % name] = normal(rows, H, std=1.0 / np.sqrt(H))
            w[p + "self_attn.%s.bias" % name] = normal(rows, std=0.02)
        w[p + "self_attn.o_proj.weight"] = normal(H, nH * D, std=1.0 / np.sqrt(nH * D))
        w[p + "self_attn.o_proj.bias"] = normal(H, std=0.02)
        w[p + "self_attn.sinks"] = normal(nH)
        w[p + "mlp.router.weight"] = normal(E, H, std=1.0 / np.sqrt(H))
        w[p + "mlp.router.bias"] = normal(E, std=0.02)
        for name, shape in (("gate_up_proj", (E, H, 2 * I)), ("down_proj", (E, I, H))):
            blocks, scales = mxfp4_pack(normal(*shape, std=1.0 / np.sqrt(shape[1])))
            w[p + "mlp.experts.%s_blocks" % name], w[p + "mlp.experts.%s_scales" % name] = blocks, scales
            w[p + "mlp.experts.%s_bias" % name] = normal(shape[0], shape[2], std=0.02)
    w["model.norm.weight"] = 1.0 + normal(H, std=0.1)
    w["lm_head.weight"] = normal(V, H, std=2.0 / np.sqrt(H))
    return w


QWEN3MOE_SLICE = {
    "architectures": ["Qwen3MoeForCausalLM"],
    "model_type": "qwen3_moe",
    "vocab_size": 8192,
    "hidden_size": 2048,
    "num_hidden_layers": 2,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "head_dim": 128,
    "intermediate_size": 6144,
    "moe_intermediate_size": 768,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "norm_topk_prob": True,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "max_position_embeddings": 40960,
    "use_sliding_window": False,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "attention_bias": False,
    "use_cache": True,
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="bench100m", choices=sorted(PRESETS) + ["gptoss-slice", "qwen3moe-slice"])
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--config-only", action="store_true", help="write config.json only (what xfc compiles)")
    args = ap.parse_args(argv)
    slice_ = args.preset == "gptoss-slice"
    if args.preset == "qwen3moe-slice":
        cfg = dict(QWEN3MOE_SLICE, torch_dtype={"f32": "float32", "bf16": "bfloat16"}[args.dtype])
    else:
        cfg = dict(GPTOSS_SLICE) if slice_ else make_config(args.preset, args.dtype)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    if args.config_only:
        return 0
    weights = make_gptoss_slice(cfg, args.seed) if slice_ else make_weights(cfg, args.seed)
    size = write_safetensors(os.path.join(args.out, "model.safetensors"), weights, "bf16" if slice_ else args.dtype)
    # A packed MXFP4 byte holds two weights; its scales are not parameters.
    params = sum(a.size * (2 if n.endswith("_blocks") else 0 if n.endswith("_scales") else 1)
                 for n, a in weights.items())
    print("wrote %s: %.1fM parameters, %.0f MB" % (args.out, params / 1e6, size / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
