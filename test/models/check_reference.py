#!/usr/bin/python3
"""Self-check of gen_tiny_model.py and reference_forward.py.

    /usr/bin/python3 test/models/check_reference.py [--max-new 64] [--keep DIR] [--xfc build/bin/xfc]

For each architecture (gen_tiny_model.ARCHS: llama, mistral, gptoss, gemma, gemma2, qwen3, qwen2, mixtral, phi3,
qwen3moe, gemma3, gemma3mm, smollm3, mistral3mm, granite, olmo2, qwen2moe, granitemoe, stablelm, starcoder2,
phi, gptneox, glm, glm4, cohere, gpt2, olmoe, ernie4_5, exaone4, seed_oss, olmo3, helium, glm4_moe, ernie4_5_moe,
dots1, phimoe, deepseek_v3, cohere2, arcee, nemotron) it generates a tiny checkpoint and checks:
  1. reference_forward's KV-cache greedy decode against a full-sequence recompute with the same code
     (every row, to 1e-10; for phimoe's longrope, whose factors follow each forward's length while the cached keys
     keep theirs, with the choice pinned to the short and to the long factors);
  2. against an independent float64 implementation written here with torch 1.13 ops in the style of
     the transformers modeling code (its own safetensors reader via torch.frombuffer, HF-style RoPE
     tables and partial apply_rotary_pos_emb, additive masks, sink column appended then dropped, the
     dense all-experts gpt-oss MoE, Mixtral's softmax-topk-renormalize routing with per-expert token
     gathering, Qwen3-MoE's (and OLMoE's) routing with and without norm_topk_prob, Gemma 2's (1 + w) norms, sandwich placement, tanh soft caps and normalizer tensor, Phi-3's
     fused projections split by slicing / chunk, GPT-NeoX in its own names and per-head qkv layout, ERNIE 4.5's
     own apply_rotary_pos_emb (Helium's too), Exaone4Config's layer_types derivation and Exaone4Attention's RoPE condition,
     Olmo3Config's layer_types derivation, Glm4MoeMoE's route_tokens_to_experts (group scores by topk(2), group mask,
     masked_fill 0.0, gather of the sigmoids) with the experts on their tokens and the shared experts, Glm4MoeModel
     leaving the MTP layers unloaded, Qwen*MoeDecoderLayer's choice between the sparse block and a dense MLP,
     Ernie4_5_MoeSparseMoeBlock's softmax, topk of moe_statics(p), gather and clamp(min=moe_norm_min) with the experts
     on their tokens and the shared experts, Ernie4_5_MoeDecoderLayer's choice by interval, start and end index,
     Ernie4_5_MoeConfig's moe_layer_end_index -1, the "mtp" tensors left unloaded, Dots1Config's layer_types derivation
     and Dots1Attention's (Qwen3Attention's) window and q/k norms, Dots1MoE routed by Glm4MoeMoE's code, which
     DeepseekV3MoE's is, PhimoeSparseMoeBlock's sparsemixer (training=False) as transformers writes it with
     MixtralExperts' per-expert loop, nn.LayerNorm(eps=rms_norm_eps), PhimoeRotaryEmbedding's longrope tables with
     short_mscale / long_mscale, per forward as HF's cached decoding computes them: the prompt's positions by its
     length, each decoded one by its own, DeepseekV3Attention's latent attention as transformers writes it (q_a_proj,
     q_a_layernorm, q_b_proj or q_proj; torch.split of kv_a_proj_with_mqa into the latent and the shared k_rot,
     kv_a_layernorm, kv_b_proj split into k_pass and the values; apply_rotary_pos_emb_interleave's view / transpose /
     reshape before rotate_half; k_rot expanded to every head; its scaling with yarn_get_mscale(factor,
     mscale_all_dim)^2), _compute_yarn_parameters' attention factor from mscale / mscale_all_dim, DeepseekV3MoE routed
     by Glm4MoeMoE's code, the MTP layer left unloaded, Cohere2Config's head_dim and layer_types derivation,
     Cohere2RotaryEmbedding's repeat_interleave'd tables with Cohere's own apply_rotary_pos_emb on the sliding layers
     only, Cohere2Attention's window, ArceeMLP's (NemotronMLP's) down_proj(act_fn(up_proj(x))) without a gate, with
     ACT2FN's ReLUSquaredActivation (torch.square(relu(x))) and ReLU, NemotronLayerNorm1P (F.layer_norm with weight + 1
     and the bias, eps norm_eps) everywhere, NemotronRotaryEmbedding's default RoPE (rope_scaling ignored) over the
     first int(head_dim * partial_rotary_factor) dims), decoding greedily by recomputing the whole sequence each step:
     same tokens, logits to 1e-9; for glm4_moe, ernie4_5_moe, dots1, phimoe, deepseek_v3, qwen3moe, qwen2moe, cohere2,
     arcee and nemotron also that torch reads every tensor of the checkpoint (GLM-4.5's and DeepSeek-V3's MTP
     layer and ERNIE 4.5 MoE's "mtp" tensors aside; an expert no token chose counts when its router was read), for
     phimoe that SparseMixer's masks keep several experts in some routings and the chosen one alone in others (each of
     its two softmaxes), for glm4_moe and deepseek_v3 that the MTP layer they ignore holds an MoE decoder layer's
     tensors plus eh_proj, enorm, hnorm and shared_head.norm, and for ernie4_5_moe that the tensors it ignores are
     the MTP layer's (model.mtp_block.0.*, mtp_emb_norm.0, mtp_hidden_norm.0, mtp_linear_proj.0 [H, 2H]);
  3. the command line (float32 .npy [N, vocab] and the `tokens:` line);
  4. --dtype bf16 / f16: every weight read back equals torch's round-to-nearest-even conversion of
     the float32 weights of the same seed (glm4_moe's, dots1's and deepseek_v3's e_score_correction_bias,
     ernie4_5_moe's mlp.gate.weight and e_score_correction_bias: stored F32, unchanged), and the decode still matches
     torch;
  5. --shards 2 / 3: the index and shard files are well formed and give the same weights as one file;
  6. that the windows matter (a run without the window gives other logits, from the first row that
     has more keys than the window on), that each architecture's own features change the logits when
     removed (gpt-oss: swiglu clamp, sinks, yarn's truncate=false and attention factor; gemma: (1 + w),
     the embedding scale; gemma2: each soft cap, the sandwich norms, (1 + w), the embedding scale,
     query_pre_attn_scalar; qwen3: q/k norms; qwen2: q/k/v biases; mixtral: the top-2
     renormalization, top-2 itself; phi3: the partial rotary factor; qwen3moe: q/k norms,
     norm_topk_prob false, top-2 itself; gemma3: sandwich norms, (1 + w), q/k norms, the sliding
     layers' own RoPE, the full layers' linear scaling, query_pre_attn_scalar; smollm3: its NoPE layer;
     granite: each of its four multipliers; olmo2: post norms, projection-wide q/k norms; qwen2moe:
     q/k/v biases, the shared expert and its gate, top-2; granitemoe: three multipliers, top-2;
     stablelm: layer norms, q/k/v biases, the partial rotary factor; starcoder2: layer norms, MLP
     biases; phi: the parallel residual, the lm_head bias, the partial rotary factor; gptneox: the
     parallel residual, the MLP's own norm, exact GELU, the partial rotary factor; glm: interleaved RoPE,
     q/k/v biases, the partial rotary factor; glm4: interleaved RoPE, the sandwich norms; cohere:
     interleaved RoPE, the parallel residual, the logit scale, the layer norms; gpt2: the learned positions,
     the tanh form of GELU; olmoe: pre norms (vs OLMo 2's post norms), projection-wide q/k norms (vs none, vs
     per head), norm_topk_prob false, top-2 itself; ernie4_5: interleaved RoPE (vs rotate-half), the attention
     biases, o_proj's bias (vs GLM's q/k/v only), the MLP biases, head_dim 32 in the score scale and the RoPE
     (vs hidden / heads = 16); exaone4: post norms (vs pre), per-head q/k norms (vs none), NoPE on the full
     layer (vs RoPE there), head_dim 32 in the score scale and the RoPE, llama3 scaling (vs none); seed_oss: the
     q/k/v biases (vs none), head_dim 32 in the score scale and the RoPE (vs hidden / heads = 16), RoPE itself (vs
     none) and rope_theta 1e7 (vs 1e4); olmo3: the window on the sliding layers 0-2 (vs none), full attention on
     layer 3 (vs the window there too), RoPE on the full layer (vs NoPE there, as EXAONE's), post norms (vs pre),
     projection-wide q/k norms (vs none, vs per head); helium: interleaved RoPE (vs rotate-half), the q/k/v biases
     (vs none), the MLP biases (vs none); glm4_moe: the e_score_correction_bias in the choice (vs none), weights
     without it (vs with it), the group limit (vs topk_group = n_group), the dropped groups' experts scoring 0.0 (vs
     -inf), routed_scaling_factor 2.5 (vs 1), norm_topk_prob, top-3 (vs top-1), the shared experts (vs none), the
     dense MLP on layer 0 (vs layer 1's mixture there), the q/k/v biases, rotate-half RoPE (vs GLM's adjacent pairs),
     the partial rotary factor, head_dim 24 in the score scale (vs hidden / heads = 16); ernie4_5_moe: the
     e_score_correction_bias in the choice (vs none), weights without it (vs with it), moe_norm_min 1e-12 (vs 1.0: the
     clamp keeps the chosen probabilities as they are), top-3 (vs top-1), the shared experts (vs none), the dense
     MLPs on layer 0 (moe_layer_start_index 1) and layer 4 (moe_layer_end_index 3) (each vs layer 1's mixture there),
     interleaved RoPE (vs rotate-half), head_dim 32 in the score scale and the RoPE (vs hidden / heads = 16); dots1: the
     e_score_correction_bias in the choice (vs none), weights without it (vs with it), the group limit (vs topk_group =
     n_group), the dropped groups' experts scoring 0.0 (vs -inf), routed_scaling_factor 2.5 (vs 1), norm_topk_prob,
     top-3 (vs top-1), the shared experts (vs none), the dense MLP on layer 0 (vs layer 1's mixture there), the per-head
     q/k RMSNorms (vs none), RoPE over the whole head (vs glm4_moe's partial_rotary_factor 0.5), head_dim 24 in the
     score scale (vs hidden / heads = 16); phimoe: router_jitter_noise 0.01 in SparseMixer's masks (vs 0.5),
     SparseMixer (vs Mixtral's top-2 softmax), the layer norms' biases (vs none), layer norms (vs RMSNorm), the q/k/v
     biases (vs none), o_proj's (vs q/k/v only), the lm_head bias, short_mscale / long_mscale (vs longrope's attention
     factor), short_factor (vs plain RoPE), long_factor past original_max_position_embeddings (vs short_factor there,
     on a 20-token prompt's prefill); deepseek_v3: glm4_moe's routing checks but the dropped groups' 0.0 (its top 2 of
     the kept group of 4 never reach them), rope_interleave's de-interleave (vs rotate-half as stored), q_a_layernorm
     (vs none), kv_a_layernorm (vs none), the RoPE key shared by every head (vs none), the score scale 24^-0.5 (vs
     (hidden / heads)^-0.5); cohere2: the window on the sliding layers 0-2 (vs none), full attention on layer 3 (vs
     the window there too), NoPE on the full layer 3 (vs RoPE there), RoPE on the sliding layers (vs none anywhere),
     sliding_window_pattern 4's layer types (vs every layer sliding and rotated), interleaved RoPE (vs rotate-half),
     rope_theta 5e4 (vs 1e4), the parallel residual, the logit scale, the layer norms without bias (vs RMSNorm); arcee:
     relu2 (vs relu, vs silu), the relu before the square (vs x^2), the MLP without a gate (vs Llama's gated form with
     up_proj's weights as the gate); nemotron: the layer norms' (1 + w) (vs w), their biases (vs none), layer norms (vs
     RMSNorm), relu2 (vs relu), the relu before the square (vs x^2), the MLP without a gate, the partial rotary factor
     0.5 (vs 1), head_dim 24 in the score scale and the RoPE (vs hidden / heads = 16)), and that `xfc CONFIG
     --emit=spec` accepts each config (skipped if xfc is not built);
  7. StableLM's parallel form (gen_tiny_model --parallel-residual), GPT-NeoX's sequential one
     (--sequential-residual) and its older checkpoints' buffers (--neox-buffers), and GPT-2 saved from
     GPT2Model (--base-model-names) and untied (--untied), and Qwen2-MoE's shared expert without its gate
     (--no-shared-gate, the reference's shared_gate off), and Cohere's and StableLM's per-head q/k layer
     norms (--qk-norm: CohereLayerNorm of shape (heads, head_dim), StableLmLayerNormPerHead; f32 and bf16,
     and StableLM with --parallel-residual too, as StableLM 2 12B), and OLMoE with norm_topk_prob true
     (--norm-topk-prob), and ERNIE 4.5 without biases (--no-bias, use_bias false, as published; f32 and
     bf16), and EXAONE 4.0 with layer_types listed beside a string sliding_window_pattern "LLLG" (--layer-types)
     and with sliding_window null (--no-window), and Seed-OSS with attention_out_bias and mlp_bias true
     (--all-biases; f32 and bf16), and OLMo 3 with layer_types listed (--layer-types: full, sliding, full, sliding;
     f32 and bf16), and GLM-4.5 MoE with use_qk_norm (--qk-norm) and in the single-group form (--single-group), and
     Qwen3-MoE and Qwen2-MoE with dense layers (--mixed-layers: decoder_sparse_step 2, mlp_only_layers [3]), and ERNIE
     4.5 MoE with moe_layer_interval 2 and moe_layer_end_index -1 (--interval) and without shared experts (--no-shared)
     (f32 and bf16), and dots.llm1 with attention_bias true (--all-biases: q, k, v and o_proj) and with sliding_window
     16 and layer_types listed (--layer-types: full, sliding, full, sliding) (f32 and bf16), and Phi-3.5-MoE without
     rope_scaling (--no-rope-scaling; f32 and bf16), and DeepSeek-V3 without the q LoRA (--no-q-lora), with
     rope_interleave false (--no-interleave), with its yarn scaling (--yarn: mscale 1.0, mscale_all_dim 0.8) and with
     attention_bias true (--attention-bias) (f32 and bf16), and with all four (f32), and Cohere 2 with layer_types
     listed beside sliding_window_pattern 4 (--layer-types: full, sliding, sliding, full), with attention_bias true
     (--attention-bias: q, k, v and o_proj) and untied (--untied) (f32 and bf16), and with all three (f32), and Arcee
     with AFM-4.5B's yarn scaling (--yarn: mscale 1.0 without mscale_all_dim), with mlp_bias true (--mlp-bias: up_proj
     and down_proj) and with hidden_act relu (--relu) (f32 and bf16), and with all three (f32), and Nemotron tied
     (--tied), with attention_bias true (--attention-bias: q, k, v and o_proj) and with mlp_bias true (--mlp-bias:
     up_proj and down_proj) (f32 and bf16), and with all three (f32), against torch, as in 2; for Cohere's and
     StableLM's --qk-norm forms also that the norms and each head's own gains change the logits, for
     OLMoE's that the renormalization does, for ERNIE 4.5's that the interleaved RoPE does, for EXAONE's --layer-types
     that the listed types (vs the pattern's), the window and NoPE on the full layers do, for --no-window that RoPE on
     every layer (vs NoPE on the full ones) does, for Seed-OSS's --all-biases that o_proj's bias (vs q/k/v only) and the
     MLP biases do, for OLMo 3's --layer-types that the listed types (vs the default pattern's), their window and RoPE
     on their full layers do, for GLM-4.5 MoE's --qk-norm that the norms do, for --single-group that the correction
     bias, weights without it, top-3 and the shared expert do, for --mixed-layers that the dense MLPs on the layers the
     step makes dense and on the mlp_only_layers one (each vs layer 1's mixture there) do, for ERNIE 4.5 MoE's
     --interval that the dense MLPs on layers 2 and 4 (vs layer 1's mixture there) and moe_layer_end_index -1 read as
     num_hidden_layers - 1 (vs literally: no mixture) do, for --no-shared that the correction bias and top-3 do, for
     dots.llm1's --all-biases that the q/k/v biases (vs none) and o_proj's (vs q/k/v only) do, for its --layer-types
     that the window on layers 1 and 3 (vs none) and full attention on layers 0 and 2 (vs the window there too) do, for
     phimoe's --no-rope-scaling that SparseMixer (vs Mixtral's routing) does, for DeepSeek-V3's --no-q-lora that
     rope_interleave does, for --no-interleave that rotate-half as stored (vs de-interleaved) does, for --yarn that
     yarn's frequencies (vs plain RoPE), cos and sin times mscale(1.0) / mscale(0.8) (vs 0.1 ln 4 + 1, vs 1) and the
     scores times mscale(0.8)^2 (vs 24^-0.5 alone) do, for --attention-bias that q_a_proj's, kv_a_proj_with_mqa's and
     o_proj's biases (each vs none) do, for Cohere 2's --layer-types that the listed types (vs the pattern's), their
     window and NoPE on their full layers do, for --attention-bias that the q/k/v biases (vs none) and o_proj's (vs
     q/k/v only) do, for --untied that the lm_head (vs the tied embeddings) does, for Arcee's --yarn that yarn's
     frequencies (vs plain RoPE), its correction range floored and ceiled (vs truncate false) and cos and sin times
     0.1 ln 4 + 1 (vs 1) do, for --mlp-bias that up_proj's and down_proj's biases (each vs none) do, for --relu that
     relu (vs relu2, vs silu) does, for Nemotron's --attention-bias that the q/k/v biases (vs none) and o_proj's (vs
     q/k/v only) do, for --mlp-bias that up_proj's and down_proj's biases (each vs none) do, as in 6.
Prints PASS or FAIL per check, exits non-zero on any failure.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_tiny_model  # noqa: E402
import reference_forward  # noqa: E402

PROMPT = [1, 7, 42, 100, 3]
ARCHS = gen_tiny_model.ARCHS
failures = []


def check(ok, what, detail=""):
    print("%s  %s%s" % ("PASS" if ok else "FAIL", what, ("  (" + detail + ")") if detail else ""))
    if not ok:
        failures.append(what)
    return ok


# --------------------------------------------------------------------------------------------------
# Independent torch float64 model
# --------------------------------------------------------------------------------------------------
def torch_load(model_dir):
    tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "BOOL": torch.bool}
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for fname in files:
        blob = bytearray(open(os.path.join(model_dir, fname), "rb").read())
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(bytes(blob[8:8 + n]))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            t = torch.frombuffer(blob[8 + n + b:8 + n + e], dtype=tdt[info["dtype"]])
            out[name] = t.to(torch.float64).reshape(info["shape"])
    return out


def torch_rope(cfg, seq_len=None):
    """inv_freq and attention scaling, following transformers' modeling_rope_utils (`seq_len`: the forward's, which
    longrope's choice of factors reads)."""
    base = cfg["rope_theta"]
    # _compute_default_rope_parameters: dim = int(head_dim * partial_rotary_factor)
    dim = int(cfg["head_dim"] * cfg.get("partial_rotary_factor", 1.0))
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))
    rs = cfg.get("rope_scaling")
    if not rs or rs.get("rope_type") == "default":    # ROPE_INIT_FUNCTIONS["default"]: no scaling
        return inv_freq, 1.0
    if rs["rope_type"] == "linear":
        # _compute_linear_scaling_rope_parameters: inv_freq /= factor
        return inv_freq / rs["factor"], 1.0
    if rs["rope_type"] == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_freq_wavelen, high_freq_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_freq_llama), 1.0
    if rs["rope_type"] == "yarn":
        factor = rs["factor"]
        omax = rs["original_max_position_embeddings"]

        def find_correction_dim(num_rotations):
            return (dim * math.log(omax / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

        low, high = find_correction_dim(rs["beta_fast"]), find_correction_dim(rs["beta_slow"])
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        pos_freqs = base ** (torch.arange(0, dim, 2).double() / dim)
        extrapolation_factor = 1 - ramp
        inv = (1.0 / (factor * pos_freqs)) * (1 - extrapolation_factor) + (1.0 / pos_freqs) * extrapolation_factor

        def get_mscale(scale, mscale=1):
            return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0

        # attention_factor when given, else get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) when both
        # are (DeepSeek-V3's), else get_mscale(factor).
        attention_factor = rs.get("attention_factor")
        if attention_factor is None:
            mscale, mscale_all_dim = rs.get("mscale"), rs.get("mscale_all_dim")
            if mscale and mscale_all_dim:
                attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
            else:
                attention_factor = get_mscale(factor)
        return inv, attention_factor
    if rs["rope_type"] == "longrope":
        # _compute_longrope_parameters: original_max_position_embeddings from the rope parameters (the config's when
        # they have none), factor max_position_embeddings / original when not given, attention_factor
        # sqrt(1 + log(factor) / log(original)) when not given; ext_factors long_factor if seq_len > original.
        original = (rs.get("original_max_position_embeddings") or cfg.get("original_max_position_embeddings")
                    or cfg["max_position_embeddings"])
        factor = rs.get("factor")
        if factor is None:
            factor = cfg["max_position_embeddings"] / original
        attention_factor = rs.get("attention_factor")
        if attention_factor is None:
            attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
        if seq_len and seq_len > original:
            ext_factors = torch.tensor(rs["long_factor"], dtype=torch.float64)
        else:
            ext_factors = torch.tensor(rs["short_factor"], dtype=torch.float64)
        inv_freq_shape = torch.arange(0, dim, 2, dtype=torch.int64).double() / dim
        return 1.0 / (ext_factors * base ** inv_freq_shape), attention_factor
    raise NotImplementedError(rs["rope_type"])


# transformers' ACT2FN (activations.py) for the hidden_act values the tiny models name: ReLUSquaredActivation
# (torch.square(relu(x))), nn.ReLU, nn.SiLU.
ACT2FN = {"relu2": lambda x: torch.square(F.relu(x)), "relu": F.relu, "silu": F.silu}


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    """transformers' apply_rotary_pos_emb, with Phi-3's partial form: the first cos.shape[-1] dims rotate."""
    rotary_dim = cos.shape[-1]
    q_rot, q_pass = q[..., :rotary_dim], q[..., rotary_dim:]
    k_rot, k_pass = k[..., :rotary_dim], k[..., rotary_dim:]
    q_embed = torch.cat([(q_rot * cos) + (rotate_half(q_rot) * sin), q_pass], dim=-1)
    k_embed = torch.cat([(k_rot * cos) + (rotate_half(k_rot) * sin), k_pass], dim=-1)
    return q_embed, k_embed


def ernie4_5_apply_rotary_pos_emb(q, k, cos, sin):
    """modeling_ernie4_5's apply_rotary_pos_emb ("glm rope style (with full dim)"): the first half of cos / sin
    repeat_interleave'd, rotate_half on adjacent pairs, every dim. Its q.float() / .to(original_dtype) round
    trip is left out: everything here is float64."""
    cos = cos[..., : cos.shape[-1] // 2].repeat_interleave(2, dim=-1)
    sin = sin[..., : sin.shape[-1] // 2].repeat_interleave(2, dim=-1)

    def rotate_half(x):
        # Ernie4_5's rotate_half: stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
        return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)

    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def cohere_apply_rotary_pos_emb(q, k, cos, sin):
    """modeling_cohere's apply_rotary_pos_emb (Cohere2's too), with cos / sin from Cohere2RotaryEmbedding (the
    frequencies repeat_interleave'd, not cat'ed): rotate_half on adjacent pairs, stack([-x2, x1]).flatten(-2), every
    dim. Its q.float() / .to(dtype) round trip is left out: everything here is float64."""

    def rotate_half(x):
        x1 = x[..., ::2]
        x2 = x[..., 1::2]
        return torch.stack([-x2, x1], dim=-1).flatten(-2)

    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def glm_apply_rotary_pos_emb(q, k, cos, sin):
    """modeling_glm's apply_rotary_pos_emb: the first half of cos / sin repeated per pair, rotate_half_llm on
    adjacent pairs (x[..., 0::2], x[..., 1::2]) of the first rotary dims."""
    cos = cos[..., : cos.shape[-1] // 2].repeat_interleave(2, dim=-1)
    sin = sin[..., : sin.shape[-1] // 2].repeat_interleave(2, dim=-1)
    rotary_dim = cos.shape[-1]

    def rotate_half_llm(x):
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((-x2, x1), dim=-1).flatten(-2)

    q_rot, q_pass = q[..., :rotary_dim], q[..., rotary_dim:]
    k_rot, k_pass = k[..., :rotary_dim], k[..., rotary_dim:]
    q_embed = torch.cat([(q_rot * cos) + (rotate_half_llm(q_rot) * sin), q_pass], dim=-1)
    k_embed = torch.cat([(k_rot * cos) + (rotate_half_llm(k_rot) * sin), k_pass], dim=-1)
    return q_embed, k_embed


class UsedDict(dict):
    """The weights, remembering which were read (`used`)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.used = set()

    def __getitem__(self, name):
        self.used.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        if name in self:
            self.used.add(name)
        return super().get(name, default)


class TorchModel:
    def __init__(self, model_dir):
        self.cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.w = torch_load(model_dir)
        if self.cfg["model_type"] in ("gemma3", "mistral3"):
            # Gemma3/Mistral3ForConditionalGeneration: the language model (its config text_config) and its
            # tensors under language_model.model. / language_model.lm_head.
            outer = self.cfg
            self.cfg = dict(outer["text_config"], torch_dtype=outer["torch_dtype"])
            self.cfg.setdefault("model_type", "gemma3_text" if outer["model_type"] == "gemma3" else "mistral")
            renamed = {}
            for name, t in self.w.items():
                for frm, to in (("language_model.model.", "model."), ("language_model.lm_head.", "lm_head."),
                                ("model.language_model.", "model.")):
                    if name.startswith(frm):
                        renamed[to + name[len(frm):]] = t
            if "lm_head.weight" in self.w and "model.language_model.embed_tokens.weight" in self.w:
                renamed["lm_head.weight"] = self.w["lm_head.weight"]
            self.w = renamed
        c = self.cfg
        self.type = c["model_type"]
        self.gptoss = self.type == "gpt_oss"
        self.gemma3 = self.type == "gemma3_text"
        self.gemma1 = self.type == "gemma"
        self.gemma = self.gemma1 or self.type == "gemma2" or self.gemma3
        self.granite = self.type in ("granite", "granitemoe")
        self.olmo2 = self.type == "olmo2"
        self.olmoe = self.type == "olmoe"
        self.ernie = self.type == "ernie4_5"
        self.exaone = self.type == "exaone4"
        self.seed = self.type == "seed_oss"
        self.olmo3 = self.type == "olmo3"
        self.helium = self.type == "helium"
        self.glm4moe = self.type == "glm4_moe"
        self.ernie_moe = self.type == "ernie4_5_moe"
        self.dots1 = self.type == "dots1"
        self.deepseek = self.type == "deepseek_v3"
        self.phimoe = self.type == "phimoe"
        self.phimoe_kept = None            # check_sparsemixer_mask: [(w1's, w2's) softmax sizes] per layer, when a list
        self.stablelm = self.type == "stablelm"
        self.starcoder2 = self.type == "starcoder2"
        self.phi = self.type == "phi"
        self.arcee = self.type == "arcee"
        self.nemotron = self.type == "nemotron"
        if self.stablelm:
            c.setdefault("partial_rotary_factor", 0.25)          # StableLmConfig's default
        if self.phi:
            c.setdefault("partial_rotary_factor", 0.5)           # PhiConfig's
        if self.type in ("gpt_neox", "gpt2"):
            return                                               # forward_neox / _gpt2 read their own fields
        self.glm = self.type in ("glm", "glm4")
        # Cohere 2 shares Cohere's LayerNorm, parallel block, tied embeddings and logit_scale (self.cohere).
        self.cohere = self.type in ("cohere", "cohere2")
        self.cohere2 = self.type == "cohere2"
        if self.glm:
            c.setdefault("partial_rotary_factor", 0.5)           # GlmConfig's
        def expect_biases(what, attention, out, mlp):
            # The checkpoint's bias tensors are exactly those of the projections built with bias=True (HF would
            # leave missing ones random and ignore unexpected ones).
            on = {"self_attn.q_proj": attention, "self_attn.k_proj": attention, "self_attn.v_proj": attention,
                  "self_attn.o_proj": out, "mlp.gate_proj": mlp, "mlp.up_proj": mlp, "mlp.down_proj": mlp}
            want = {"model.layers.%d.%s.bias" % (n, m) for n in range(c["num_hidden_layers"]) for m in on if on[m]}
            assert {n for n in self.w if n.endswith(".bias")} == want, "%s bias tensors do not follow %s" % what

        if self.cohere2:
            # Cohere2Config's defaults, then its __post_init__: num_key_value_heads null -> the head count, head_dim =
            # hidden_size // num_attention_heads (overwriting config.json's), layer_types when not given
            # "sliding_attention" if (i + 1) % sliding_window_pattern (kwargs.pop, default 4) else "full_attention".
            for key, value in (("num_key_value_heads", None), ("layer_norm_eps", 1e-5), ("logit_scale", 0.0625),
                               ("rope_theta", 10000.0), ("attention_bias", False), ("sliding_window", 4096)):
                c.setdefault(key, value)
            if c["num_key_value_heads"] is None:
                c["num_key_value_heads"] = c["num_attention_heads"]
            c["head_dim"] = c["hidden_size"] // c["num_attention_heads"]
            if c.get("layer_types") is None:
                pattern = c.get("sliding_window_pattern", 4)
                c["layer_types"] = ["sliding_attention" if bool((i + 1) % pattern) else "full_attention"
                                    for i in range(c["num_hidden_layers"])]
            # Cohere2Model.forward builds create_sliding_window_causal_mask every time: it raises without a window.
            assert c["sliding_window"] is not None
            # Cohere2Attention: q/k/v/o_proj with bias=config.attention_bias, all four; CohereMLP: bias=False.
            expect_biases(("Cohere2", "attention_bias"), c["attention_bias"], c["attention_bias"], False)
        if self.glm4moe:
            # Glm4MoeConfig's defaults (kwargs.setdefault("partial_rotary_factor", 0.5)); Glm4MoeModel builds
            # num_hidden_layers layers, so the checkpoint's MTP layers (model.layers.L + i.*, num_nextn_predict_layers of
            # them) are unexpected keys, left unloaded: kept aside here (check_decode looks at their form).
            for key, value in (("partial_rotary_factor", 0.5), ("num_key_value_heads", 8), ("rms_norm_eps", 1e-5),
                               ("attention_bias", False), ("use_qk_norm", False), ("num_experts_per_tok", 8),
                               ("n_shared_experts", 1), ("n_routed_experts", 128), ("routed_scaling_factor", 1.0),
                               ("n_group", 1), ("topk_group", 1), ("first_k_dense_replace", 1),
                               ("norm_topk_prob", True)):
                c.setdefault(key, value)
            L = c["num_hidden_layers"]
            self.mtp = {n: t for n, t in self.w.items() if n.startswith("model.layers.") and int(n.split(".")[2]) >= L}
            self.w = {n: t for n, t in self.w.items() if n not in self.mtp}
            # Glm4MoeAttention: q/k/v_proj with bias=config.attention_bias, o_proj bias=False; Glm4MoeMLP: no biases.
            expect_biases(("GLM-4.5 MoE", "attention_bias"), c["attention_bias"], False, False)
        if self.dots1:
            # Dots1Config's defaults (no head_dim field: getattr(config, "head_dim", hidden / heads), below), then its
            # __post_init__: layer_types, when not given, "sliding_attention" if sliding_window is not None and i >=
            # max_window_layers. Dots1PreTrainedModel: _keys_to_ignore_on_load_unexpected = None (DeepseekV3's skips its
            # MTP layer): nothing is set aside, and check_decode sees that every tensor is read.
            for key, value in (("num_key_value_heads", 32), ("rms_norm_eps", 1e-6), ("rope_theta", 10000.0),
                               ("attention_bias", False), ("n_group", 1), ("topk_group", 1),
                               ("first_k_dense_replace", 0), ("norm_topk_prob", False), ("routed_scaling_factor", 1.0),
                               ("sliding_window", 4096), ("max_window_layers", 62)):
                c.setdefault(key, value)
            if c.get("layer_types") is None:
                c["layer_types"] = ["sliding_attention"
                                    if c["sliding_window"] is not None and i >= c["max_window_layers"]
                                    else "full_attention" for i in range(c["num_hidden_layers"])]
            # Dots1Attention (Qwen3Attention): q/k/v/o_proj with bias=config.attention_bias, all four; Dots1MLP
            # (DeepseekV3MLP): no biases.
            expect_biases(("dots.llm1", "attention_bias"), c["attention_bias"], c["attention_bias"], False)
        if self.deepseek:
            # DeepseekV3Config's defaults; head_dim = qk_rope_head_dim (LlamaRotaryEmbedding's dim); rope_type from the
            # published "type" (standardize_rope_params). DeepseekV3Model builds num_hidden_layers layers: the MTP
            # layers after them (model.layers.L + i.*) are unexpected keys, left unloaded, kept aside here.
            for key, value in (("num_key_value_heads", 128), ("rms_norm_eps", 1e-6), ("attention_bias", False),
                               ("q_lora_rank", 1536), ("kv_lora_rank", 512), ("qk_nope_head_dim", 128),
                               ("qk_rope_head_dim", 64), ("v_head_dim", 128), ("rope_interleave", True),
                               ("n_routed_experts", 256), ("num_experts_per_tok", 8), ("n_group", 8), ("topk_group", 4),
                               ("n_shared_experts", 1), ("routed_scaling_factor", 2.5), ("first_k_dense_replace", 3),
                               ("norm_topk_prob", True)):
                c.setdefault(key, value)
            assert c["num_key_value_heads"] == c["num_attention_heads"] and "head_dim" not in c
            c["head_dim"] = c["qk_rope_head_dim"]
            if c.get("rope_scaling"):
                c["rope_scaling"].setdefault("rope_type", c["rope_scaling"].get("type"))
            L = c["num_hidden_layers"]
            self.mtp = {n: t for n, t in self.w.items() if n.startswith("model.layers.") and int(n.split(".")[2]) >= L}
            self.w = {n: t for n, t in self.w.items() if n not in self.mtp}
            # DeepseekV3Attention: q_a_proj, kv_a_proj_with_mqa and o_proj with bias=config.attention_bias; q_proj,
            # q_b_proj, kv_b_proj bias=False; DeepseekV3MLP: none.
            biased = ({"kv_a_proj_with_mqa", "o_proj"} | ({"q_a_proj"} if c["q_lora_rank"] else set())
                      if c["attention_bias"] else set())
            want = {"model.layers.%d.self_attn.%s.bias" % (n, m) for n in range(L) for m in biased}
            assert {n for n in self.w if n.endswith(".bias")} == want, \
                "DeepSeek-V3 bias tensors do not follow attention_bias"
        if self.phimoe:
            # PhimoeConfig's defaults (no head_dim field: getattr(config, "head_dim", hidden / heads), below), and its
            # rope_scaling["rope_type"] = rope_scaling.get("type").
            for key, value in (("num_key_value_heads", 8), ("rope_theta", 1e6), ("rms_norm_eps", 1e-5),
                               ("attention_bias", False), ("lm_head_bias", False), ("num_local_experts", 16),
                               ("num_experts_per_tok", 2), ("router_jitter_noise", 0.01)):
                c.setdefault(key, value)
            if c.get("rope_scaling"):
                c["rope_scaling"].setdefault("rope_type", c["rope_scaling"].get("type"))
            # PhimoeDecoderLayer / PhimoeModel: nn.LayerNorm(elementwise_affine=True: weight and bias); PhimoeAttention
            # (LlamaAttention): q/k/v/o_proj with bias=config.attention_bias; PhimoeSparseMoeBlock: the router
            # (block_sparse_moe.gate, no bias) and Mixtral's experts (w1, w2, w3); lm_head with bias=lm_head_bias.
            want = {"model.embed_tokens.weight", "model.norm.weight", "model.norm.bias"}
            want |= {"lm_head.weight"} if not c.get("tie_word_embeddings", False) else set()
            want |= {"lm_head.bias"} if c["lm_head_bias"] else set()
            for n in range(c["num_hidden_layers"]):
                p = "model.layers.%d." % n
                want |= {p + a + b for a in ("input_layernorm", "post_attention_layernorm")
                         for b in (".weight", ".bias")}
                want |= {p + "self_attn.%s_proj.%s" % (t, b) for t in "qkvo"
                         for b in (("weight", "bias") if c["attention_bias"] else ("weight",))}
                want |= {p + "block_sparse_moe.gate.weight"}
                want |= {p + "block_sparse_moe.experts.%d.%s.weight" % (e, t) for e in range(c["num_local_experts"])
                         for t in ("w1", "w2", "w3")}
            assert set(self.w) == want, "Phi-3.5-MoE tensors: %s" % sorted(set(self.w) ^ want)[:4]
        if self.ernie_moe:
            # Ernie4_5_MoeConfig's defaults (no head_dim: getattr(config, "head_dim", hidden / heads), below) and its
            # self.moe_layer_end_index = self.num_hidden_layers - 1 if moe_layer_end_index == -1.
            # Ernie4_5_MoePreTrainedModel: _keys_to_ignore_on_load_unexpected = ["mtp"] (re.search): every tensor whose
            # name contains "mtp" is left unloaded, kept aside here (check_decode looks at them).
            for key, value in (("num_key_value_heads", 4), ("rope_theta", 500000.0), ("rms_norm_eps", 1e-5),
                               ("use_bias", False), ("moe_num_experts", 64), ("moe_k", 6),
                               ("moe_num_shared_experts", 2), ("moe_layer_start_index", 1), ("moe_layer_end_index", -1),
                               ("moe_layer_interval", 1), ("moe_norm_min", 1e-12)):
                c.setdefault(key, value)
            if c["moe_layer_end_index"] == -1:
                c["moe_layer_end_index"] = c["num_hidden_layers"] - 1
            self.mtp = {n: t for n, t in self.w.items() if "mtp" in n}
            self.w = {n: t for n, t in self.w.items() if n not in self.mtp}
            # bias=config.use_bias everywhere (the experts' and the lm_head's too); the tiny model has use_bias false.
            assert not c["use_bias"]
            expect_biases(("ERNIE 4.5 MoE", "use_bias"), False, False, False)
        if self.ernie:
            # Ernie4_5Attention / Ernie4_5MLP: nn.Linear(..., bias=config.use_bias) on all seven projections.
            use_bias = c.get("use_bias", False)
            expect_biases(("ERNIE 4.5", "use_bias"), use_bias, use_bias, use_bias)
        if self.seed:
            # SeedOssAttention: q_proj, k_proj, v_proj with bias=config.attention_bias, o_proj with
            # bias=config.attention_out_bias; SeedOssMLP: bias=config.mlp_bias on all three (SeedOssConfig's defaults
            # true, false, false). head_dim: SeedOssConfig's 128 when absent (hidden / heads when null, below).
            c.setdefault("head_dim", 128)
            expect_biases(("Seed-OSS", "attention_bias / attention_out_bias / mlp_bias"), c.get("attention_bias", True),
                          c.get("attention_out_bias", False), c.get("mlp_bias", False))
        if self.helium:
            # HeliumAttention: q_proj, k_proj, v_proj with bias=config.attention_bias, o_proj = nn.Linear(hidden_size,
            # hidden_size, bias=False); HeliumMLP (LlamaMLP): bias=config.mlp_bias on all three (HeliumConfig's
            # defaults false, false). HeliumConfig: head_dim 128, 20 kv heads, rope_theta 1e5, rms_norm_eps 1e-8.
            c.setdefault("head_dim", 128)
            c.setdefault("num_key_value_heads", 20)
            c.setdefault("rope_theta", 100000.0)
            c.setdefault("rms_norm_eps", 1e-8)
            assert c["num_attention_heads"] * c["head_dim"] == c["hidden_size"], "Helium's o_proj is [hidden, hidden]"
            expect_biases(("Helium", "attention_bias / mlp_bias"), c.get("attention_bias", False), False,
                          c.get("mlp_bias", False))
        if self.arcee:
            # ArceeConfig (LlamaConfig's fields, pretraining_tp deleted): hidden_act "relu2", rms_norm_eps 1e-5,
            # rope_theta 1e4, untied, no biases; num_key_value_heads null -> the head count, head_dim null -> hidden /
            # heads (below). ArceeForCausalLM is LlamaForCausalLM: ArceeAttention (LlamaAttention) with q/k/v/o_proj
            # bias=config.attention_bias; ArceeMLP (NemotronMLP) up_proj and down_proj with bias=config.mlp_bias and no
            # gate_proj. The checkpoint holds exactly the tensors the class loads (a gate_proj would be left unloaded).
            for key, value in (("hidden_act", "relu2"), ("rms_norm_eps", 1e-5), ("rope_theta", 10000.0),
                               ("num_key_value_heads", None), ("tie_word_embeddings", False), ("attention_bias", False),
                               ("mlp_bias", False)):
                c.setdefault(key, value)
            if c["num_key_value_heads"] is None:
                c["num_key_value_heads"] = c["num_attention_heads"]
            want = {"model.embed_tokens.weight", "model.norm.weight"}
            want |= {"lm_head.weight"} if not c["tie_word_embeddings"] else set()
            for n in range(c["num_hidden_layers"]):
                p = "model.layers.%d." % n
                want |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
                want |= {p + "self_attn.%s_proj.%s" % (t, b) for t in "qkvo"
                         for b in (("weight", "bias") if c["attention_bias"] else ("weight",))}
                want |= {p + "mlp.%s_proj.%s" % (t, b) for t in ("up", "down")
                         for b in (("weight", "bias") if c["mlp_bias"] else ("weight",))}
            assert set(self.w) == want, "Arcee tensors: %s" % sorted(set(self.w) ^ want)[:4]
        if self.nemotron:
            # NemotronConfig: hidden_act "relu2", norm_eps 1e-5, rope_theta 1e4, partial_rotary_factor 0.5, untied, no
            # biases; head_dim null -> hidden / heads (below); num_key_value_heads stays null when not given (and
            # NemotronAttention's num_heads // num_key_value_heads fails). NemotronDecoderLayer / NemotronModel:
            # NemotronLayerNorm1P (nn.LayerNorm: weight and bias); NemotronAttention: q/k/v/o_proj with
            # bias=config.attention_bias; NemotronMLP: up_proj and down_proj with bias=config.mlp_bias, no gate_proj.
            for key, value in (("hidden_act", "relu2"), ("norm_eps", 1e-5), ("rope_theta", 10000.0),
                               ("partial_rotary_factor", 0.5), ("tie_word_embeddings", False),
                               ("attention_bias", False), ("mlp_bias", False)):
                c.setdefault(key, value)
            assert c.get("num_key_value_heads") is not None, "NemotronConfig has no num_key_value_heads default"
            want = {"model.embed_tokens.weight", "model.norm.weight", "model.norm.bias"}
            want |= {"lm_head.weight"} if not c["tie_word_embeddings"] else set()
            for n in range(c["num_hidden_layers"]):
                p = "model.layers.%d." % n
                want |= {p + a + b for a in ("input_layernorm", "post_attention_layernorm")
                         for b in (".weight", ".bias")}
                want |= {p + "self_attn.%s_proj.%s" % (t, b) for t in "qkvo"
                         for b in (("weight", "bias") if c["attention_bias"] else ("weight",))}
                want |= {p + "mlp.%s_proj.%s" % (t, b) for t in ("up", "down")
                         for b in (("weight", "bias") if c["mlp_bias"] else ("weight",))}
            assert set(self.w) == want, "Nemotron tensors: %s" % sorted(set(self.w) ^ want)[:4]
        if self.exaone:
            # Exaone4Config: class defaults, then __post_init__: no window sets the pattern to 0; layer_types
            # derived from the pattern only when not given (a string pattern beside them is left alone).
            c.setdefault("sliding_window", 4096)
            c.setdefault("sliding_window_pattern", 4)
            if c["sliding_window"] is None:
                c["sliding_window_pattern"] = 0
            if c.get("layer_types") is None:
                c["layer_types"] = ["sliding_attention" if (i + 1) % c["sliding_window_pattern"] != 0
                                    else "full_attention" for i in range(c["num_hidden_layers"])]
        if self.olmo3:
            # Olmo3Config: sliding_window 4096 by default; layer_types, when not given, "sliding_attention" if
            # (i + 1) % 4 != 0 else "full_attention". Every layer rotates with one RoPE: transformers releases
            # disagree on whether the sliding layers apply a scaling, which the tiny models do not have.
            c.setdefault("sliding_window", 4096)
            if c.get("layer_types") is None:
                c["layer_types"] = ["sliding_attention" if (i + 1) % 4 != 0 else "full_attention"
                                    for i in range(c["num_hidden_layers"])]
            assert not c.get("rope_scaling") or c["rope_scaling"].get("rope_type") == "default"
        # getattr(config, "head_dim", hidden_size // num_attention_heads), as the attention classes do.
        c["head_dim"] = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        # NemotronRotaryEmbedding: self.rope_type = "default" whatever the config's rope scaling says.
        self.inv_freq, self.att_scaling = torch_rope(dict(self.cfg, rope_scaling=None) if self.nemotron else self.cfg)
        if self.gemma3:
            # Gemma3TextModel.rotary_emb_local: rope_theta = rope_local_base_freq, rope_scaling default.
            local = dict(self.cfg, rope_theta=self.cfg.get("rope_local_base_freq", 10000.0), rope_scaling=None)
            self.local_inv_freq, self.local_att_scaling = torch_rope(local)
        self.w = UsedDict(self.w)

    def lin(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def rms(self, x, name):
        if self.nemotron:
            # NemotronLayerNorm1P: F.layer_norm(input, normalized_shape, self.weight + 1, self.bias, self.eps), eps =
            # config.norm_eps.
            return F.layer_norm(x, x.shape[-1:], self.w[name] + 1, self.w[name[:-len("weight")] + "bias"],
                                self.cfg["norm_eps"])
        if self.cohere:
            # CohereLayerNorm: (x - mean) * rsqrt(variance + eps), times the weight; no bias.
            mean = x.mean(-1, keepdim=True)
            variance = (x - mean).pow(2).mean(-1, keepdim=True)
            return self.w[name] * ((x - mean) * torch.rsqrt(variance + self.cfg["layer_norm_eps"]))
        if self.stablelm or self.starcoder2 or self.phi or self.phimoe:
            # StableLm / Starcoder2 / PhiDecoderLayer: nn.LayerNorm(hidden_size, eps=layer_norm_eps /
            # norm_epsilon); PhimoeDecoderLayer / PhimoeModel: nn.LayerNorm(hidden_size, eps=config.rms_norm_eps)
            eps = "norm_epsilon" if self.starcoder2 else "rms_norm_eps" if self.phimoe else "layer_norm_eps"
            return F.layer_norm(x, x.shape[-1:], self.w[name], self.w[name[:-len("weight")] + "bias"], self.cfg[eps])
        var = x.pow(2).mean(-1, keepdim=True)
        if self.gemma:
            # Gemma2RMSNorm: output * (1.0 + self.weight.float())
            return (x * torch.rsqrt(var + self.cfg["rms_norm_eps"])) * (1.0 + self.w[name])
        return self.w[name] * (x * torch.rsqrt(var + self.cfg["rms_norm_eps"]))

    def window(self, layer):
        c = self.cfg
        if self.type in ("mistral", "mixtral", "phi3", "starcoder2"):
            return c.get("sliding_window")
        if self.gptoss and c["layer_types"][layer] == "sliding_attention":
            return c["sliding_window"]
        if self.gemma3:
            # Gemma3Attention: is_sliding = bool((layer_idx + 1) % config.sliding_window_pattern)
            return c["sliding_window"] if (layer + 1) % c["sliding_window_pattern"] else None
        if self.gemma and not self.gemma1:
            # Gemma2Attention: sliding_window if not bool(layer_idx % 2) (or layer_types, when given)
            sliding = c["layer_types"][layer] == "sliding_attention" if c.get("layer_types") else not bool(layer % 2)
            return c["sliding_window"] if sliding else None
        if self.type == "smollm3":
            assert not c.get("use_sliding_window")
            return None
        if self.exaone:
            # Exaone4Attention: sliding_window=self.sliding_window if self.is_sliding else None, is_sliding =
            # layer_types[layer_idx] == "sliding_attention".
            return c["sliding_window"] if c["layer_types"][layer] == "sliding_attention" else None
        if self.olmo3:
            # Olmo3Attention: self.sliding_window = config.sliding_window if self.attention_type == "sliding_attention"
            # else None, attention_type = config.layer_types[layer_idx].
            return c["sliding_window"] if c["layer_types"][layer] == "sliding_attention" else None
        if self.dots1:
            # Dots1Attention (Qwen3Attention): self.sliding_window = config.sliding_window if
            # config.layer_types[layer_idx] == "sliding_attention" else None.
            return c["sliding_window"] if c["layer_types"][layer] == "sliding_attention" else None
        if self.cohere2:
            # Cohere2Attention: self.sliding_window = config.sliding_window if config.layer_types[layer_idx] ==
            # "sliding_attention" else None; Cohere2Model passes that layer type's mask.
            return c["sliding_window"] if c["layer_types"][layer] == "sliding_attention" else None
        if self.type in ("qwen3_moe", "qwen2_moe"):
            # Qwen3MoeConfig: sliding_window if use_sliding_window else None (not in the tiny models).
            assert not c.get("use_sliding_window")
            return None
        if self.type in ("qwen2", "qwen3"):
            # Qwen2Config: sliding_window if use_sliding_window else None; layer_types "sliding_attention"
            # if sliding_window is not None and i >= max_window_layers.
            sw = c.get("sliding_window") if c.get("use_sliding_window") else None
            types = c.get("layer_types") or ["sliding_attention" if sw is not None and i >= c["max_window_layers"]
                                             else "full_attention" for i in range(c["num_hidden_layers"])]
            return sw if types[layer] == "sliding_attention" else None
        return None

    def qkv(self, h, p, S, H, KV, D):
        if self.type == "phi3":
            qkv = self.lin(h, p + "self_attn.qkv_proj")
            query_pos = H * D
            q = qkv[..., :query_pos]
            k = qkv[..., query_pos:query_pos + KV * D]
            v = qkv[..., query_pos + KV * D:]
        else:
            q = self.lin(h, p + "self_attn.q_proj")
            k = self.lin(h, p + "self_attn.k_proj")
            v = self.lin(h, p + "self_attn.v_proj")
        if self.olmo2 or self.olmoe or self.olmo3:
            # Olmo2Attention (and Olmo3Attention, the same): self.q_norm(self.q_proj(hidden_states)), then
            # .view(hidden_shape); OlmoeAttention the same, q_norm = OlmoeRMSNorm(hidden_size), k_norm =
            # OlmoeRMSNorm(head_dim * num_key_value_heads).
            q = self.rms(q, p + "self_attn.q_norm.weight")
            k = self.rms(k, p + "self_attn.k_norm.weight")
        q, k, v = q.view(S, -1, D), k.view(S, -1, D), v.view(S, -1, D)
        if (self.type in ("qwen3", "qwen3_moe", "gemma3_text", "exaone4", "dots1")
                or (self.glm4moe and self.cfg["use_qk_norm"])):
            # Qwen3Attention (and Dots1Attention, which it is) / Gemma3Attention:
            # self.q_norm(self.q_proj(hidden_states).view(hidden_shape)).transpose(1, 2)
            # Exaone4Attention: self.q_norm(query_states) after the view and transpose (the same per-head RMSNorm).
            # Glm4MoeAttention (use_qk_norm): q_norm = Glm4MoeRMSNorm(head_dim) on the viewed states, before the
            # transpose and RoPE.
            q = self.rms(q, p + "self_attn.q_norm.weight")
            k = self.rms(k, p + "self_attn.k_norm.weight")
        if self.type == "cohere" and self.cfg.get("use_qk_norm"):    # Cohere2Attention has no q/k norms
            # CohereAttention: q_norm = CohereLayerNorm(hidden_size=(num_heads, head_dim)) on the viewed
            # [.., heads, head_dim] states: its [heads, head_dim] weight gives each head its own gains.
            q = self.rms(q, p + "self_attn.q_norm.weight")
            k = self.rms(k, p + "self_attn.k_norm.weight")
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        if self.stablelm and self.cfg.get("qk_layernorm"):
            # StableLmAttention: q_layernorm(query_states) after the transpose to [heads, S, D].
            q = self.layer_norm_per_head(q, p + "self_attn.q_layernorm.")
            k = self.layer_norm_per_head(k, p + "self_attn.k_layernorm.")
        return q, k, v

    def layer_norm_per_head(self, x, prefix):
        """StableLmLayerNormPerHead: torch.split(hidden_states, 1, dim=1) (the heads axis), each through its
        own norms[h] = nn.LayerNorm(head_dim, eps=layer_norm_eps, bias=False), torch.cat back."""
        states_per_heads = torch.split(x, 1, dim=0)
        return torch.cat([F.layer_norm(h, h.shape[-1:], self.w[prefix + "norms.%d.weight" % i], None,
                                       self.cfg["layer_norm_eps"])
                          for i, h in enumerate(states_per_heads)], dim=0)

    def mla(self, p, h, cos, sin):
        """DeepseekV3Attention.forward (multi-head latent attention) as transformers writes it, without the batch axis
        (and no cache: every key recomputed), eager attention (repeat_kv by heads / num_key_value_heads = 1, the causal
        additive mask, softmax, then the values)."""
        c = self.cfg
        S, nope, rope = h.shape[0], c["qk_nope_head_dim"], c["qk_rope_head_dim"]
        qk_head_dim = nope + rope
        if c["q_lora_rank"] is None:
            q_states = self.lin(h, p + "q_proj")
        else:
            q_states = self.lin(self.rms(self.lin(h, p + "q_a_proj"), p + "q_a_layernorm.weight"), p + "q_b_proj")
        q_states = q_states.view(S, -1, qk_head_dim).transpose(0, 1)
        q_pass, q_rot = torch.split(q_states, [nope, rope], dim=-1)
        compressed_kv = self.lin(h, p + "kv_a_proj_with_mqa")
        k_pass, k_rot = torch.split(compressed_kv, [c["kv_lora_rank"], rope], dim=-1)
        k_pass = self.lin(self.rms(k_pass, p + "kv_a_layernorm.weight"), p + "kv_b_proj")
        k_pass = k_pass.view(S, -1, nope + c["v_head_dim"]).transpose(0, 1)
        k_pass, value_states = torch.split(k_pass, [nope, c["v_head_dim"]], dim=-1)
        k_rot = k_rot.view(1, S, rope)
        if c["rope_interleave"]:
            # apply_rotary_pos_emb_interleave: view(..., d // 2, 2).transpose(-1, -2).reshape(..., d), then rotate_half.
            q_rot = q_rot.reshape(-1, S, rope // 2, 2).transpose(-1, -2).reshape(-1, S, rope)
            k_rot = k_rot.reshape(1, S, rope // 2, 2).transpose(-1, -2).reshape(1, S, rope)
        q_rot = (q_rot * cos) + (rotate_half(q_rot) * sin)
        k_rot = (k_rot * cos) + (rotate_half(k_rot) * sin)
        k_rot = k_rot.expand(*k_pass.shape[:-1], -1)
        query_states = torch.cat((q_pass, q_rot), dim=-1)
        key_states = torch.cat((k_pass, k_rot), dim=-1)
        # self.scaling = qk_head_dim ** -0.5, times yarn_get_mscale(factor, mscale_all_dim) ** 2 when the rope type is
        # not default and mscale_all_dim is nonzero.
        scaling = qk_head_dim ** -0.5
        rs = c.get("rope_scaling") or {}
        if rs.get("rope_type", "default") != "default" and rs.get("mscale_all_dim", 0):
            factor, mscale_all_dim = rs["factor"], rs["mscale_all_dim"]
            mscale = 1.0 if factor <= 1 else 0.1 * mscale_all_dim * math.log(factor) + 1.0
            scaling = scaling * mscale * mscale
        causal = torch.zeros(S, S, dtype=torch.float64).masked_fill(
            torch.arange(S)[None, :] > torch.arange(S)[:, None], float("-inf"))
        probs = F.softmax(torch.matmul(query_states, key_states.transpose(1, 2)) * scaling + causal, dim=-1)
        attn = torch.matmul(probs, value_states).transpose(0, 1).reshape(S, -1)
        return self.lin(attn, p + "o_proj")

    def mlp(self, p, h):
        c = self.cfg
        n = int(p.split(".")[2])
        if (self.glm4moe or self.dots1 or self.deepseek) and n >= c["first_k_dense_replace"]:
            # Glm4MoeDecoderLayer: Glm4MoeMoE if layer_idx >= config.first_k_dense_replace, else Glm4MoeMLP(config)
            # (intermediate_size: the SwiGLU below). Dots1DecoderLayer (DeepseekV3DecoderLayer): the same, with Dots1MoE
            # (DeepseekV3MoE, whose DeepseekV3TopkRouter and moe() are Glm4MoeMoE's code).
            return self.glm4_moe(p + "mlp.", h)
        if self.ernie_moe and ((n + 1) % c["moe_layer_interval"] == 0 and n >= c["moe_layer_start_index"]
                               and n <= c["moe_layer_end_index"]):
            # Ernie4_5_MoeDecoderLayer: Ernie4_5_MoeSparseMoeBlock if ((layer_idx + 1) % config.moe_layer_interval == 0)
            # and layer_idx >= config.moe_layer_start_index and layer_idx <= config.moe_layer_end_index, else
            # Ernie4_5_MoeMLP(config) (intermediate_size: the SwiGLU below).
            return self.ernie4_5_moe(p + "mlp.", h)
        if self.type in ("qwen3_moe", "qwen2_moe") and (
                n not in (c.get("mlp_only_layers") or [])
                and c.get("num_experts", 128 if self.type == "qwen3_moe" else 60) > 0
                and (n + 1) % c.get("decoder_sparse_step", 1) == 0):
            # Qwen3MoeDecoderLayer / Qwen2MoeDecoderLayer: the sparse block if (layer_idx not in config.mlp_only_layers)
            # and (config.num_experts > 0 and (layer_idx + 1) % config.decoder_sparse_step == 0), else
            # Qwen3MoeMLP(config, intermediate_size=config.intermediate_size) (the SwiGLU below; no shared expert).
            return self.qwen3_moe(p + "mlp.", h) if self.type == "qwen3_moe" else self.qwen2_moe(p + "mlp.", h)
        if self.gptoss:
            return self.moe(p + "mlp.", h)
        if self.type == "mixtral":
            return self.mixtral_moe(p + "block_sparse_moe.", h)
        if self.phimoe:
            return self.phimoe_moe(p + "block_sparse_moe.", h)
        if self.olmoe:
            return self.olmoe_moe(p + "mlp.", h)
        if self.type == "granitemoe":
            return self.granite_moe(p + "block_sparse_moe.", h)
        if self.type in ("phi3", "glm", "glm4"):
            # Phi3MLP / GlmMLP: gate_up_proj(x).chunk(2, dim=-1), down_proj(up * act(gate)).
            up_states = self.lin(h, p + "mlp.gate_up_proj")
            gate, up_states = up_states.chunk(2, dim=-1)
            return self.lin(up_states * F.silu(gate), p + "mlp.down_proj")
        if self.phi:
            # PhiMLP: fc2(activation_fn(fc1(hidden_states))), gelu_new here.
            assert c["hidden_act"] == "gelu_new"
            return self.lin(F.gelu(self.lin(h, p + "mlp.fc1"), approximate="tanh"), p + "mlp.fc2")
        if self.starcoder2:
            # Starcoder2MLP: c_proj(act(c_fc(hidden_states))), act gelu_pytorch_tanh here.
            assert c["hidden_act"] == "gelu_pytorch_tanh"
            return self.lin(F.gelu(self.lin(h, p + "mlp.c_fc"), approximate="tanh"), p + "mlp.c_proj")
        if self.arcee or self.nemotron:
            # ArceeMLP (NemotronMLP): self.down_proj(self.act_fn(self.up_proj(x))), act_fn = ACT2FN[config.hidden_act];
            # no gate.
            return self.lin(ACT2FN[c["hidden_act"]](self.lin(h, p + "mlp.up_proj")), p + "mlp.down_proj")
        act = (lambda x: F.gelu(x, approximate="tanh")) if self.gemma else F.silu
        # GemmaMLP: ACT2FN[config.hidden_activation], "gelu_pytorch_tanh" when None (hidden_act is legacy).
        used = (c.get("hidden_activation") or "gelu_pytorch_tanh") if self.gemma else c.get("hidden_act")
        assert used == ("gelu_pytorch_tanh" if self.gemma else "silu")
        return self.lin(act(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")

    def forward_neox(self, ids):
        """GPTNeoXForCausalLM: its own names and layout, written from modeling_gpt_neox."""
        c, w = self.cfg, self.w
        S, H = len(ids), c["num_attention_heads"]
        D = c["hidden_size"] // H
        # GPTNeoXRotaryEmbedding: dim = int(head_size * rotary_pct), base rotary_emb_base.
        rot = int(D * c.get("rotary_pct", 0.25))
        inv_freq = 1.0 / (c.get("rotary_emb_base", 10000) ** (torch.arange(0, rot, 2, dtype=torch.int64).double() / rot))
        freqs = torch.outer(torch.arange(S, dtype=torch.float64), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        eps = c.get("layer_norm_eps", 1e-5)

        def ln(x, name):
            return F.layer_norm(x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], eps)

        def mlp(p, h):
            # GPTNeoXMLP: dense_4h_to_h(act(dense_h_to_4h(x))), act = ACT2FN["gelu"] (exact) here.
            assert c.get("hidden_act", "gelu") == "gelu"
            return self.lin(F.gelu(self.lin(h, p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")

        causal = torch.zeros(S, S, dtype=torch.float64).masked_fill(
            torch.arange(S)[None, :] > torch.arange(S)[:, None], float("-inf"))
        x = F.embedding(torch.tensor(ids), w["gpt_neox.embed_in.weight"])
        for n in range(c["num_hidden_layers"]):
            p = "gpt_neox.layers.%d." % n
            # GPTNeoXAttention: qkv.view(..., -1, 3 * head_size).transpose(1, 2).chunk(3, dim=-1)
            qkv = self.lin(ln(x, p + "input_layernorm"), p + "attention.query_key_value")
            q, k, v = qkv.view(S, H, 3 * D).transpose(0, 1).chunk(3, dim=-1)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            probs = F.softmax(torch.matmul(q, k.transpose(1, 2)) * D ** -0.5 + causal, dim=-1)
            attn = self.lin(torch.matmul(probs, v).transpose(0, 1).reshape(S, H * D), p + "attention.dense")
            if c.get("use_parallel_residual", True):
                # GPTNeoXLayer: x = x + attn(ln1(x)) + mlp(ln2(x))
                x = mlp(p, ln(x, p + "post_attention_layernorm")) + attn + x
            else:
                # x = x + attn(ln1(x)); x = x + mlp(ln2(x))
                attn = attn + x
                x = mlp(p, ln(attn, p + "post_attention_layernorm")) + attn
        return F.linear(ln(x, "gpt_neox.final_layer_norm"), w["embed_out.weight"])

    def forward_gpt2(self, ids):
        """GPT2LMHeadModel: its own names, Conv1D weights and learned positions, from modeling_gpt2."""
        c, w = self.cfg, self.w
        S, H = len(ids), c["n_head"]
        D = c["n_embd"] // H
        t = "transformer." if "transformer.wte.weight" in w else ""   # GPT2Model checkpoints have none

        def conv1d(x, name):
            # Conv1D: torch.addmm(bias, x, weight), weight [nx, nf].
            return torch.addmm(w[name + ".bias"], x, w[name + ".weight"])

        def ln(x, name):
            return F.layer_norm(x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], c["layer_norm_epsilon"])

        assert c.get("activation_function", "gelu_new") == "gelu_new"
        causal = torch.zeros(S, S, dtype=torch.float64).masked_fill(
            torch.arange(S)[None, :] > torch.arange(S)[:, None], float("-inf"))
        # GPT2Model: inputs_embeds + wpe(position_ids)
        x = F.embedding(torch.tensor(ids), w[t + "wte.weight"]) + F.embedding(torch.arange(S), w[t + "wpe.weight"])
        for n in range(c["n_layer"]):
            p = t + "h.%d." % n
            # GPT2Attention: c_attn(x).split(split_size, dim=2), heads split, scores / sqrt(head_dim)
            q, k, v = conv1d(ln(x, p + "ln_1"), p + "attn.c_attn").split(c["n_embd"], dim=-1)
            q, k, v = (z.view(S, H, D).transpose(0, 1) for z in (q, k, v))
            scores = torch.matmul(q, k.transpose(-1, -2))
            if c.get("scale_attn_weights", True):
                scores = scores / (D ** 0.5)
            probs = F.softmax(scores + causal, dim=-1)
            x = x + conv1d(torch.matmul(probs, v).transpose(0, 1).reshape(S, H * D), p + "attn.c_proj")
            # GPT2MLP: c_proj(act(c_fc(hidden_states))), act gelu_new
            h = F.gelu(conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
            x = x + conv1d(h, p + "mlp.c_proj")
        # GPT2LMHeadModel: lm_head, tied to wte unless tie_word_embeddings is false
        head = w[t + "wte.weight"] if c.get("tie_word_embeddings", True) else w["lm_head.weight"]
        return F.linear(ln(x, t + "ln_f"), head)

    def forward(self, ids, prefill=None):
        """Logits of every position of `ids` (no cache). `prefill`: the length of the prompt HF's cached decoding ran as
        one forward (default: all of `ids`), which Phi-3.5-MoE's longrope tables follow (phimoe_tables)."""
        if self.type == "gpt_neox":
            return self.forward_neox(ids)
        if self.type == "gpt2":
            return self.forward_gpt2(ids)
        c, w = self.cfg, self.w
        S, H, KV, D = len(ids), c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        x = F.embedding(torch.tensor(ids), w["model.embed_tokens.weight"])
        if self.gemma:
            # Gemma2Model: normalizer = torch.tensor(self.config.hidden_size**0.5, dtype=hidden_states.dtype)
            dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[c["torch_dtype"]]
            x = x * torch.tensor(c["hidden_size"] ** 0.5, dtype=dtype).double()
        def tables(inv_freq, att_scaling):
            freqs = torch.outer(torch.arange(S, dtype=torch.float64), inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            return emb.cos() * att_scaling, emb.sin() * att_scaling

        global_tables = tables(self.inv_freq, self.att_scaling)
        if self.phimoe and c.get("rope_scaling"):
            global_tables = self.phimoe_tables(S, len(ids) if prefill is None else prefill)
        local_tables = tables(self.local_inv_freq, self.local_att_scaling) if self.gemma3 else global_tables
        if self.cohere2:
            # Cohere2RotaryEmbedding: emb = torch.repeat_interleave(freqs, 2, dim=-1) ("we interleave() instead of
            # cat()"), cos and sin times attention_scaling.
            emb = torch.repeat_interleave(torch.outer(torch.arange(S, dtype=torch.float64), self.inv_freq), 2, dim=-1)
            global_tables = local_tables = (emb.cos() * self.att_scaling, emb.sin() * self.att_scaling)
        q_idx = torch.arange(S)[:, None]
        kv_idx = torch.arange(S)[None, :]
        scaling = c["query_pre_attn_scalar"] ** -0.5 if self.gemma and not self.gemma1 else D ** -0.5
        # GraniteModel: inputs_embeds * embedding_multiplier; GraniteAttention: scaling = attention_multiplier;
        # GraniteDecoderLayer: residual + hidden_states * residual_multiplier (both blocks).
        residual = 1.0
        if self.granite:
            x = x * c["embedding_multiplier"]
            scaling = c["attention_multiplier"]
            residual = c["residual_multiplier"]
        for n in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % n
            # Olmo2DecoderLayer (and Exaone4DecoderLayer and Olmo3DecoderLayer, the same): no input_layernorm; the
            # block reads the residual stream itself.
            h = x if self.olmo2 or self.exaone or self.olmo3 else self.rms(x, p + "input_layernorm.weight")
            if self.deepseek:
                # DeepseekV3DecoderLayer (LlamaDecoderLayer): residual adds around the attention and the MLP.
                x = x + self.mla(p + "self_attn.", h, *global_tables)
                x = x + self.mlp(p, self.rms(x, p + "post_attention_layernorm.weight"))
                continue
            q, k, v = self.qkv(h, p, S, H, KV, D)
            # Gemma3DecoderLayer: position_embeddings_local on sliding layers, the global ones elsewhere;
            # SmolLM3Attention: apply_rotary_pos_emb only if config.no_rope_layers[layer_idx].
            cos, sin = local_tables if self.window(n) is not None else global_tables
            if self.ernie or self.helium or self.ernie_moe:
                # modeling_helium's (and modeling_ernie4_5_moe's) apply_rotary_pos_emb is ERNIE 4.5's: the first half
                # of cos / sin repeat_interleave'd, rotate_half on adjacent pairs (x[..., 0::2], x[..., 1::2]), every
                # dim.
                q, k = ernie4_5_apply_rotary_pos_emb(q, k, cos, sin)
            elif self.exaone:
                # Exaone4Attention: "We use global NoPE for hybrid attention model".
                if c["sliding_window"] is None or c["layer_types"][n] == "sliding_attention":
                    q, k = apply_rotary_pos_emb(q, k, cos, sin)
            elif self.cohere2:
                # Cohere2Attention: apply_rotary_pos_emb only `if self.sliding_window is not None`: the full layers are
                # NoPE.
                if self.window(n) is not None:
                    q, k = cohere_apply_rotary_pos_emb(q, k, cos, sin)
            elif self.glm or self.cohere:
                # Cohere's apply_rotary_pos_emb (repeat_interleave'd frequencies, rotate_half on adjacent
                # pairs, every dim) computes what GLM's does when the whole head rotates.
                q, k = glm_apply_rotary_pos_emb(q, k, cos, sin)
            elif self.type != "smollm3" or c["no_rope_layers"][n]:
                q, k = apply_rotary_pos_emb(q, k, cos, sin)
            # repeat_kv: kv head j serves query heads j*n_rep .. j*n_rep + n_rep - 1.
            k = k[:, None].expand(KV, H // KV, S, D).reshape(H, S, D)
            v = v[:, None].expand(KV, H // KV, S, D).reshape(H, S, D)
            allowed = kv_idx <= q_idx
            W = self.window(n)
            if W is not None:
                allowed = allowed & (kv_idx > q_idx - W)        # transformers' sliding_window_overlay
            mask = torch.zeros(S, S, dtype=torch.float64).masked_fill(~allowed, float("-inf"))
            scores = torch.matmul(q, k.transpose(1, 2)) * scaling
            if self.gemma and c.get("attn_logit_softcapping") is not None:
                scores = scores / c["attn_logit_softcapping"]
                scores = torch.tanh(scores)
                scores = scores * c["attn_logit_softcapping"]
            scores = scores + mask
            if self.gptoss:
                sinks = w[p + "self_attn.sinks"].reshape(H, 1, 1).expand(H, S, 1)
                combined = torch.cat([scores, sinks], dim=-1)
                combined = combined - combined.max(dim=-1, keepdim=True).values
                probs = F.softmax(combined, dim=-1)[..., :-1]
            else:
                probs = F.softmax(scores, dim=-1)
            attn = torch.matmul(probs, v).transpose(0, 1).reshape(S, H * D)
            attn = self.lin(attn, p + ("self_attn.dense" if self.phi else "self_attn.o_proj"))
            if self.phi or self.cohere or (self.stablelm and c.get("use_parallel_residual")):
                # PhiDecoderLayer (and StableLmDecoderLayer with use_parallel_residual): attn_outputs +
                # feed_forward_hidden_states + residual, both from the same input_layernorm output.
                x = x + attn + self.mlp(p, h)
                continue
            if self.olmo2 or self.exaone or self.olmo3:
                # Olmo2DecoderLayer: residual + post_attention_layernorm(attn), then residual +
                # post_feedforward_layernorm(mlp(hidden_states)).
                x = x + self.rms(attn, p + "post_attention_layernorm.weight")
                x = x + self.rms(self.mlp(p, x), p + "post_feedforward_layernorm.weight")
            elif self.type == "glm4":
                # Glm4DecoderLayer: post_self_attn_layernorm on the attention output, then the residual;
                # post_attention_layernorm -> mlp -> post_mlp_layernorm, then the residual.
                x = x + self.rms(attn, p + "post_self_attn_layernorm.weight")
                h = self.rms(x, p + "post_attention_layernorm.weight")
                x = x + self.rms(self.mlp(p, h), p + "post_mlp_layernorm.weight")
            elif self.gemma and not self.gemma1:
                # Gemma2DecoderLayer: post_attention_layernorm on the attention output, then the residual;
                # pre_feedforward_layernorm -> mlp -> post_feedforward_layernorm, then the residual.
                x = x + self.rms(attn, p + "post_attention_layernorm.weight")
                h = self.rms(x, p + "pre_feedforward_layernorm.weight")
                x = x + self.rms(self.mlp(p, h), p + "post_feedforward_layernorm.weight")
            else:
                x = x + attn * residual
                h = self.rms(x, p + "post_attention_layernorm.weight")
                x = x + self.mlp(p, h) * residual
        x = self.rms(x, "model.final_layernorm.weight" if self.phi else "model.norm.weight")
        head = (w["model.embed_tokens.weight"]
                if c.get("tie_word_embeddings",
                         self.gemma or self.starcoder2 or self.cohere or self.ernie or self.ernie_moe)
                else w["lm_head.weight"])
        logits = F.linear(x, head, w.get("lm_head.bias"))
        if self.granite:
            logits = logits / c["logits_scaling"]               # GraniteForCausalLM
        if self.cohere:
            logits = logits * c["logit_scale"]                  # CohereForCausalLM
        if self.gemma and c.get("final_logit_softcapping") is not None:
            logits = logits / c["final_logit_softcapping"]
            logits = torch.tanh(logits)
            logits = logits * c["final_logit_softcapping"]
        return logits

    def phimoe_tables(self, S, prefill):
        """cos, sin [S, head_dim] as PhimoeRotaryEmbedding.forward gives them in each forward of HF's cached decoding:
        seq_len = torch.max(position_ids) + 1; mscale = long_mscale if seq_len > rope_parameters'
        original_max_position_embeddings else short_mscale; inv_freq, attention_scaling = rope_init_fn(config, device,
        seq_len) (longrope); cos = cos(position * inv_freq) * mscale. The prompt's forward gives its positions
        0..prefill-1 the seq_len `prefill`, each decoded token's forward its position + 1; the keys cached keep the
        rotation they got: one pass rotating position j by seq_len max(prefill, j + 1) is that decode."""
        rs = self.cfg["rope_scaling"]
        cos, sin = [], []
        for j in range(S):
            seq_len = max(prefill, j + 1)
            mscale = rs["long_mscale"] if seq_len > rs["original_max_position_embeddings"] else rs["short_mscale"]
            inv_freq, attention_scaling = torch_rope(self.cfg, seq_len)
            mscale = attention_scaling if mscale is None else mscale
            emb = torch.cat((j * inv_freq, j * inv_freq), dim=-1)
            cos.append(emb.cos() * mscale)
            sin.append(emb.sin() * mscale)
        return torch.stack(cos), torch.stack(sin)

    def phimoe_moe(self, p, h):
        """PhimoeSparseMoeBlock at inference: PhimoeTopKRouter (router_logits = the gate, an nn.Linear without bias),
        sparsemixer(router_logits, jitter_eps=router_jitter_noise, training=False) as transformers writes it, then
        PhimoeExperts (MixtralExperts: one_hot(selected).permute(2, 1, 0), each hit expert on its tokens, index_add_),
        w1 gate, w3 up, w2 down."""
        c, w = self.cfg, self.w
        E, jitter_eps = c["num_local_experts"], c["router_jitter_noise"]
        scores = F.linear(h, w[p + "gate.weight"])
        # Compute mask for sparsity
        mask_logits_threshold, max_ind = scores.max(dim=-1, keepdim=True)
        factor = scores.abs().clamp(min=mask_logits_threshold)
        mask_logits_threshold = ((mask_logits_threshold - scores) / factor) > (2 * jitter_eps)
        masked_gates = scores.masked_fill(mask_logits_threshold, float("-inf"))
        selected_experts = max_ind
        kept = torch.isfinite(masked_gates).sum(dim=-1)
        masked_gates = torch.softmax(masked_gates, dim=-1)
        multiplier = masked_gates.gather(dim=-1, index=selected_experts)
        # Masked out first expert
        masked_scores = torch.scatter(scores, -1, selected_experts, float("-inf"))
        mask_logits_threshold, max_ind = masked_scores.max(dim=-1, keepdim=True)
        factor = scores.abs().clamp(min=mask_logits_threshold)
        mask_logits_threshold = ((mask_logits_threshold - scores) / factor) > (2 * jitter_eps)
        masked_gates_top2 = masked_scores.masked_fill(mask_logits_threshold, float("-inf"))
        selected_experts_top2 = max_ind
        kept_top2 = torch.isfinite(masked_gates_top2).sum(dim=-1)
        masked_gates_top2 = torch.softmax(masked_gates_top2, dim=-1)
        multiplier_top2 = masked_gates_top2.gather(dim=-1, index=selected_experts_top2)
        multiplier = torch.concat((multiplier, multiplier_top2), dim=-1)
        selected_experts = torch.concat((selected_experts, selected_experts_top2), dim=-1)
        if self.phimoe_kept is not None:
            self.phimoe_kept.append((kept, kept_top2))
        final = torch.zeros_like(h)
        expert_mask = F.one_hot(selected_experts, num_classes=E).permute(2, 1, 0)    # [E, 2, S]
        expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
        for expert_idx in expert_hit:
            e = int(expert_idx[0])
            top_k_pos, token_idx = torch.where(expert_mask[e])
            current = h[token_idx]
            q = p + "experts.%d." % e
            out = F.linear(F.silu(F.linear(current, w[q + "w1.weight"])) * F.linear(current, w[q + "w3.weight"]),
                           w[q + "w2.weight"])
            final.index_add_(0, token_idx, out * multiplier[token_idx, top_k_pos, None])
        return final

    def moe(self, p, h):
        """GptOssTopKRouter + GptOssExperts (the dense path: every expert, weighted by the scores)."""
        c, w = self.cfg, self.w
        E, limit, alpha = c["num_local_experts"], c["swiglu_limit"], 1.702
        router_logits = F.linear(h, w[p + "router.weight"], w[p + "router.bias"])
        top_value, top_index = torch.topk(router_logits, c["num_experts_per_tok"], dim=-1)
        top_value = F.softmax(top_value, dim=1)
        scores = torch.zeros_like(router_logits).scatter_(1, top_index, top_value)     # [S, E]
        hs = h.repeat(E, 1).view(E, h.shape[0], h.shape[1])
        gate_up = torch.bmm(hs, w[p + "experts.gate_up_proj"]) + w[p + "experts.gate_up_proj_bias"][..., None, :]
        gate, up = gate_up[..., ::2], gate_up[..., 1::2]
        gate = gate.clamp(min=None, max=limit)
        up = up.clamp(min=-limit, max=limit)
        glu = gate * torch.sigmoid(gate * alpha)
        out = torch.bmm((up + 1) * glu, w[p + "experts.down_proj"]) + w[p + "experts.down_proj_bias"][..., None, :]
        return (out * scores.transpose(0, 1)[..., None]).sum(dim=0)

    def mixtral_moe(self, p, h):
        """MixtralSparseMoeBlock: softmax over all experts, topk, renormalize, then each expert (w1 gate, w3
        up, w2 down) on the tokens routed to it (index_add_)."""
        return self.sparse_moe(p, h, self.cfg["num_local_experts"], True, ("w1", "w3", "w2"))

    def qwen3_moe(self, p, h):
        """Qwen3MoeSparseMoeBlock: the same, divided by the chosen sum only with norm_topk_prob; experts as
        Qwen3MoeMLP (gate_proj, up_proj, down_proj)."""
        return self.sparse_moe(p, h, self.cfg["num_experts"], self.cfg.get("norm_topk_prob", False),
                               ("gate_proj", "up_proj", "down_proj"))

    def olmoe_moe(self, p, h):
        """OlmoeSparseMoeBlock: gate (nn.Linear, no bias), softmax over all num_experts, topk, divided by the chosen
        sum only with norm_topk_prob; experts as OlmoeMLP (down_proj(act(gate_proj x) * up_proj x))."""
        assert self.cfg["hidden_act"] == "silu" and not self.cfg.get("clip_qkv")
        return self.sparse_moe(p, h, self.cfg["num_experts"], self.cfg.get("norm_topk_prob", False),
                               ("gate_proj", "up_proj", "down_proj"))

    def qwen2_moe(self, p, h):
        """Qwen2MoeSparseMoeBlock: Qwen3-MoE's routed experts, plus shared_expert_output =
        F.sigmoid(self.shared_expert_gate(hidden_states)) * self.shared_expert(hidden_states)."""
        w, q = self.w, p + "shared_expert."
        routed = self.sparse_moe(p, h, self.cfg["num_experts"], self.cfg.get("norm_topk_prob", False),
                                 ("gate_proj", "up_proj", "down_proj"))
        shared = F.linear(F.silu(F.linear(h, w[q + "gate_proj.weight"])) * F.linear(h, w[q + "up_proj.weight"]),
                          w[q + "down_proj.weight"])
        if p + "shared_expert_gate.weight" not in w:  # a .xf spec's shared expert without a gate
            return routed + shared
        return routed + torch.sigmoid(F.linear(h, w[p + "shared_expert_gate.weight"])) * shared

    def glm4_moe(self, p, h):
        """Glm4MoeMoE (and Dots1MoE: DeepseekV3MoE, the same code): Glm4MoeTopkRouter (router_logits =
        F.linear(x.float32, weight.float32): float64 here), then route_tokens_to_experts (DeepseekV3TopkRouter's
        get_topk_indices and forward) as transformers writes it, the experts on the tokens routed to them (index_add_),
        plus shared_experts(residuals)."""
        c, w = self.cfg, self.w
        E, G, top_k = c["n_routed_experts"], c["n_group"], c["num_experts_per_tok"]
        router_logits = F.linear(h, w[p + "gate.weight"]).sigmoid()
        router_logits_for_choice = router_logits + w[p + "gate.e_score_correction_bias"]
        group_scores = router_logits_for_choice.view(-1, G, E // G).topk(2, dim=-1)[0].sum(dim=-1)
        group_idx = torch.topk(group_scores, k=c["topk_group"], dim=-1, sorted=False)[1]
        group_mask = torch.zeros_like(group_scores)
        group_mask.scatter_(1, group_idx, 1)
        score_mask = group_mask.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E)
        scores_for_choice = router_logits_for_choice.masked_fill(~score_mask.bool(), 0.0)
        # transformers: torch.topk(scores_for_choice, k=self.top_k, dim=-1, sorted=False)[1]. The dropped groups'
        # experts all score 0.0 and win over negative scores (the tiny model has such tokens), and torch.topk takes tied
        # ones in no defined order (on CPU not by index): a stable descending sort takes the lower expert first, the
        # order the reference (and xf) define.
        topk_indices = torch.sort(scores_for_choice, dim=-1, descending=True, stable=True)[1][:, :top_k]
        topk_weights = router_logits.gather(1, topk_indices)
        if c["norm_topk_prob"]:
            denominator = topk_weights.sum(dim=-1, keepdim=True) + 1e-20
            topk_weights /= denominator
        topk_weights = topk_weights * c["routed_scaling_factor"]
        # Glm4MoeMoE.moe: one_hot(topk_indices).permute(2, 0, 1), each expert (Glm4MoeMLP) on its tokens.
        final = torch.zeros_like(h)
        expert_mask = F.one_hot(topk_indices, num_classes=E).permute(2, 0, 1)
        for e in range(E):
            token_indices, weight_indices = torch.where(expert_mask[e])
            if token_indices.numel() > 0:
                q = p + "experts.%d." % e
                x = h[token_indices]
                out = F.linear(F.silu(F.linear(x, w[q + "gate_proj.weight"])) * F.linear(x, w[q + "up_proj.weight"]),
                               w[q + "down_proj.weight"])
                final.index_add_(0, token_indices, out * topk_weights[token_indices, weight_indices].unsqueeze(-1))
        q = p + "shared_experts."
        shared = F.linear(F.silu(F.linear(h, w[q + "gate_proj.weight"])) * F.linear(h, w[q + "up_proj.weight"]),
                          w[q + "down_proj.weight"])
        return final + shared

    def ernie4_5_moe(self, p, h):
        """Ernie4_5_MoeSparseMoeBlock as transformers writes it: shared_experts(hidden_states) first; router_logits =
        self.gate(hidden_states.float()) (float32 there, float64 here), softmax, topk of moe_statics(routing_weights)
        (the probabilities plus e_score_correction_bias.squeeze()), gather of the probabilities, divided by
        clamp(sum, min=moe_norm_min); each hit expert (Ernie4_5_MoeMLP) on its tokens (index_add_), then
        + shared_output. torch.topk takes tied scores in no defined order; with the random bias added there are none."""
        c, w = self.cfg, self.w
        E, top_k = c["moe_num_experts"], c["moe_k"]
        shared_output = None
        if c["moe_num_shared_experts"] > 0:
            q = p + "shared_experts."
            shared_output = F.linear(
                F.silu(F.linear(h, w[q + "gate_proj.weight"])) * F.linear(h, w[q + "up_proj.weight"]),
                w[q + "down_proj.weight"])
        router_logits = F.linear(h, w[p + "gate.weight"])
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float64)
        # Ernie4_5_MoeStatics.forward: hidden_states + self.e_score_correction_bias.squeeze()
        choice = routing_weights + w[p + "moe_statics.e_score_correction_bias"].squeeze()
        _, selected_experts = torch.topk(choice, top_k, dim=-1)
        routing_weights = torch.gather(routing_weights, dim=-1, index=selected_experts)
        routing_weights = routing_weights / torch.clamp(routing_weights.sum(dim=-1, keepdim=True),
                                                        min=c["moe_norm_min"])
        final = torch.zeros_like(h)
        expert_mask = F.one_hot(selected_experts, num_classes=E).permute(2, 1, 0)    # [E, k, S]
        expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
        for expert_idx in expert_hit:
            e = int(expert_idx)
            idx, top_x = torch.where(expert_mask[e])
            current = h[None, top_x].reshape(-1, h.shape[-1])
            q = p + "experts.%d." % e
            out = F.linear(F.silu(F.linear(current, w[q + "gate_proj.weight"]))
                           * F.linear(current, w[q + "up_proj.weight"]), w[q + "down_proj.weight"])
            final.index_add_(0, top_x, out * routing_weights[top_x, idx, None])
        if shared_output is not None:
            final = final + shared_output
        return final

    def granite_moe(self, p, h):
        """GraniteMoeTopKGating: logits.topk(top_k, dim=1), softmax over them; GraniteMoeParallelExperts:
        F.linear with expert e's block of input_linear, chunk(2, dim=-1) into gate and up, act(gate) * up,
        then its block of output_linear."""
        w, k = self.w, self.cfg["num_experts_per_tok"]
        logits = F.linear(h, w[p + "router.layer.weight"])
        top_k_logits, top_k_indices = logits.topk(k, dim=1)
        top_k_gates = torch.softmax(top_k_logits, dim=1)
        out = torch.zeros_like(h)
        for t in range(h.shape[0]):
            for j in range(k):
                e = int(top_k_indices[t, j])
                gate, up = F.linear(h[t], w[p + "input_linear.weight"][e]).chunk(2, dim=-1)
                out[t] += top_k_gates[t, j] * F.linear(F.silu(gate) * up, w[p + "output_linear.weight"][e])
        return out

    def sparse_moe(self, p, h, E, renormalize, names):
        w, k = self.w, self.cfg["num_experts_per_tok"]
        router_logits = F.linear(h, w[p + "gate.weight"])
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float64)
        routing_weights, selected_experts = torch.topk(routing_weights, k, dim=-1)
        if renormalize:
            routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        final = torch.zeros_like(h)
        expert_mask = F.one_hot(selected_experts, num_classes=E).permute(2, 1, 0)    # [E, k, S]
        gate, up, down = names
        for e in range(E):
            idx, top_x = torch.where(expert_mask[e])
            current = h[None, top_x].reshape(-1, h.shape[-1])
            q = p + "experts.%d." % e
            out = F.linear(F.silu(F.linear(current, w[q + gate + ".weight"])) * F.linear(current, w[q + up + ".weight"]),
                           w[q + down + ".weight"])
            final.index_add_(0, top_x, out * routing_weights[top_x, idx, None])
        return final

    def greedy(self, prompt, n):
        ids, rows = list(prompt), []
        with torch.no_grad():
            for _ in range(n):
                logits = self.forward(ids, len(prompt))[-1]
                rows.append(logits.numpy())
                ids.append(int(torch.argmax(logits)))
        return np.array(rows), ids[len(prompt):]


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------
def gen(root, arch, dtype="f32", shards=1, seed=0, extra=()):
    out = os.path.join(root, "%s-%s-s%d-seed%d%s" % (arch, dtype, shards, seed, "".join(extra)))
    args = ["--arch", arch, "--out", out, "--dtype", dtype, "--shards", str(shards), "--seed", str(seed)] + list(extra)
    rc = subprocess.run([sys.executable, os.path.join(HERE, "gen_tiny_model.py")] + args).returncode
    if rc != 0:
        raise RuntimeError("gen_tiny_model.py %s failed" % " ".join(args))
    return out


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_decode(tag, model_dir, max_new, shared_gate=True):
    ref = reference_forward.Model(model_dir)
    ref.shared_gate = shared_gate
    logits, tokens = reference_forward.greedy(ref, PROMPT, max_new)
    # 1. Cache vs full recompute. longrope's factors (and Phi-3.5-MoE's mscale) follow each forward's length and the
    # cached keys keep the rotation of the forward that computed them, so that once the decode passes the original
    # length one forward of the whole sequence rotates the early keys otherwise: there the cache is checked with the
    # choice pinned, to the short and to the long tables (the decode itself against torch's in 2).
    for pin in [None] if ref.long_rope is None else [float("inf"), 0]:
        r, lg, tk, what = ref, logits, tokens, ""
        if pin is not None:
            r = reference_forward.Model(model_dir)
            r.shared_gate = shared_gate
            r.long_rope = (pin,) + r.long_rope[1:]
            lg, tk = reference_forward.greedy(r, PROMPT, max_new)
            what = " (longrope pinned to its %s factors)" % ("short" if pin else "long")
        full = r.forward(PROMPT + tk[:-1], 0, r.new_cache())[len(PROMPT) - 1:]
        check(maxdiff(full, lg) <= 1e-10, "%s: KV-cache decode == full recompute%s" % (tag, what),
              "max diff %.2e" % maxdiff(full, lg))
    # 2. Independent torch.
    tm = TorchModel(model_dir)
    tlogits, ttokens = tm.greedy(PROMPT, max_new)
    check(ttokens == tokens, "%s: greedy tokens == torch" % tag,
          "" if ttokens == tokens else "first mismatch at %d" % next(i for i, (a, b) in enumerate(zip(tokens, ttokens)) if a != b))
    d = maxdiff(tlogits, logits) if tlogits.shape == logits.shape else float("inf")
    check(d <= 1e-9, "%s: logits == torch float64" % tag, "max diff %.2e, |logits| max %.2f" % (d, np.abs(logits).max()))
    if tm.type in ("glm4_moe", "ernie4_5_moe", "qwen3_moe", "qwen2_moe", "dots1", "phimoe", "deepseek_v3", "cohere2",
                   "arcee", "nemotron"):
        # Mixed dense / MoE layers (and Cohere 2's biases and lm_head, Arcee's MLP biases, Nemotron's norm, attention
        # and MLP biases and lm_head, by their flags): every tensor the checkpoint has (GLM-4.5's and DeepSeek-V3's MTP
        # layers and ERNIE 4.5 MoE's "mtp" tensors aside; dots.llm1's, Phi-3.5-MoE's, Cohere 2's, Arcee's and
        # Nemotron's all) is read; an expert that no token chose counts as read when its layer's router was (HF loads
        # it all the same).
        unused = sorted(n for n in set(tm.w) - tm.w.used
                        if not (".experts." in n and n.split("experts.")[0] + "gate.weight" in tm.w.used))
        check(not unused, "%s: torch reads every tensor" % tag, "unused: %s" % unused[:4] if unused else "")
    if tm.type in ("glm4_moe", "deepseek_v3"):
        check_mtp_layers(tag, tm)
    if tm.type == "ernie4_5_moe":
        check_ernie_mtp(tag, tm)
    if tm.type == "phimoe":
        check_sparsemixer_mask(tag, tm, PROMPT + ttokens[:-1])
    return logits, tokens


def check_sparsemixer_mask(tag, tm, ids):
    """The tiny model's SparseMixer masks leave several experts in the softmax of some routings (token and layer) and
    the chosen expert alone in others, in each of the two choices: torch's counts over the decode of `ids`."""
    tm.phimoe_kept = []
    with torch.no_grad():
        tm.forward(ids, len(PROMPT))
    first = torch.cat([a.reshape(-1) for a, _ in tm.phimoe_kept])
    second = torch.cat([b.reshape(-1) for _, b in tm.phimoe_kept])
    tm.phimoe_kept = None
    counts = [int((k == 1).sum()) for k in (first, second)] + [int((k > 1).sum()) for k in (first, second)]
    check(min(counts) > 0, "%s: SparseMixer's masks keep several experts in some routings, the chosen one alone in "
          "others" % tag, "of %d routings the first softmax over 1 expert: %d, the second: %d; over more: %d, %d"
          % ((len(first),) + tuple(counts)))


def check_ernie_mtp(tag, tm):
    """The tensors ERNIE 4.5 MoE ignores (names containing "mtp") are the MTP layer gen_tiny_model writes, as the
    published checkpoints hold one: a decoder layer model.mtp_block.0.* (with a dense MLP of intermediate_size) plus
    model.mtp_emb_norm.0.weight, model.mtp_hidden_norm.0.weight [H] and model.mtp_linear_proj.0.weight [H, 2H]."""
    c = tm.cfg
    H, I, q, kv = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"] * c["head_dim"], \
        c["num_key_value_heads"] * c["head_dim"]
    p = "model.mtp_block.0."
    want = {p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
            p + "self_attn.q_proj.weight": (q, H), p + "self_attn.k_proj.weight": (kv, H),
            p + "self_attn.v_proj.weight": (kv, H), p + "self_attn.o_proj.weight": (H, q),
            p + "mlp.gate_proj.weight": (I, H), p + "mlp.up_proj.weight": (I, H), p + "mlp.down_proj.weight": (H, I),
            "model.mtp_emb_norm.0.weight": (H,), "model.mtp_hidden_norm.0.weight": (H,),
            "model.mtp_linear_proj.0.weight": (H, 2 * H)}
    got = {n: tuple(t.shape) for n, t in tm.mtp.items()}
    check(got == want, "%s: the ignored \"mtp\" tensors are the MTP layer (mtp_block.0, mtp_emb_norm, mtp_hidden_norm, "
          "mtp_linear_proj)" % tag, "%d tensors" % len(tm.mtp))


def check_mtp_layers(tag, tm):
    """GLM-4.5's (and DeepSeek-V3's) MTP layers, which the class ignores, are as the published ones: layer L + i holds
    an MoE decoder layer's tensors (those of layer L - 1, renamed) plus eh_proj [H, 2H], enorm, hnorm and
    shared_head.norm [H]."""
    c = tm.cfg
    L, H = c["num_hidden_layers"], c["hidden_size"]
    ok = bool(tm.mtp) or c.get("num_nextn_predict_layers", 0) == 0
    for i in range(c.get("num_nextn_predict_layers", 0)):
        last, p = "model.layers.%d." % (L - 1), "model.layers.%d." % (L + i)
        want = {p + n[len(last):]: tuple(t.shape) for n, t in tm.w.items() if n.startswith(last)}
        want.update({p + "eh_proj.weight": (H, 2 * H), p + "enorm.weight": (H,), p + "hnorm.weight": (H,),
                     p + "shared_head.norm.weight": (H,)})
        got = {n: tuple(t.shape) for n, t in tm.mtp.items() if n.startswith(p)}
        ok = ok and got == want
    ok = ok and all(int(n.split(".")[2]) < L + c.get("num_nextn_predict_layers", 0) for n in tm.mtp)
    check(ok, "%s: the MTP layers (ignored) hold an MoE layer, eh_proj, enorm, hnorm, shared_head.norm" % tag,
          "%d tensors" % len(tm.mtp))


def check_cli(tag, model_dir, max_new, logits, tokens, tmp):
    out = os.path.join(tmp, "cli.npy")
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_forward.py"), "--model", model_dir,
                        "--prompt-ids", ",".join(map(str, PROMPT)), "--max-new", str(max_new), "--out", out],
                       capture_output=True, text=True)
    ok = r.returncode == 0 and os.path.exists(out)
    if ok:
        a = np.load(out)
        line = [l for l in r.stdout.splitlines() if l.startswith("tokens: ")]
        ok = (a.dtype == np.float32 and a.shape == (max_new, 256) and maxdiff(a, logits) <= 1e-5 * max(1, np.abs(logits).max())
              and len(line) == 1 and [int(t) for t in line[0][8:].split(",")] == tokens
              and list(np.argmax(a, axis=1)) == tokens)
    check(ok, "%s: CLI writes float32 [%d, 256] and the tokens line" % (tag, max_new), r.stderr.strip()[-300:])


def check_rounding(root, arch):
    f32 = reference_forward.load_weights(gen(root, arch, "f32"))
    # Stored F32 whatever --dtype (GLM-4.5's e_score_correction_bias, ERNIE 4.5 MoE's router and correction bias): read
    # back unchanged.
    keep = {n for n in f32 if n.endswith(gen_tiny_model.FLOAT32_TENSORS.get(arch, ()))}
    for dtype, tdtype in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        low = reference_forward.load_weights(gen(root, arch, dtype))
        bad = [n for n in f32 if not np.array_equal(
            f32[n] if n in keep else torch.from_numpy(f32[n]).float().to(tdtype).double().numpy(), low[n])]
        changed = sum(int(np.any(f32[n] != low[n])) for n in f32 if n not in keep)
        check(set(low) == set(f32) and not bad and changed == len(f32) - len(keep),
              "%s %s: weights read back == torch RNE rounding of the f32 weights" % (arch, dtype),
              "mismatched: %s" % bad[:3] if bad else "%d tensors" % len(f32))


def check_format(model_dir):
    """Header length a multiple of 8, offsets contiguous from 0 and covering the data."""
    files = [f for f in os.listdir(model_dir) if f.endswith(".safetensors")]
    for f in files:
        blob = open(os.path.join(model_dir, f), "rb").read()
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + n])
        spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
        ok = n % 8 == 0 and "__metadata__" in header and spans[0][0] == 0 and spans[-1][1] == len(blob) - 8 - n
        ok = ok and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        if not ok:
            return False
    return True


def check_shards(root, arch):
    one = reference_forward.load_weights(gen(root, arch, "bf16", 1))
    ok_one = check_format(gen(root, arch, "bf16", 1))
    for k in (2, 3):
        d = gen(root, arch, "bf16", k)
        index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
        names = ["model-%05d-of-%05d.safetensors" % (i + 1, k) for i in range(k)]
        files_ok = sorted(set(index["weight_map"].values())) == names and all(os.path.exists(os.path.join(d, f)) for f in names)
        size_ok = index["metadata"]["total_size"] == sum(
            a.size * (4 if n.endswith(gen_tiny_model.FLOAT32_TENSORS.get(arch, ())) else 2) for n, a in one.items())
        many = reference_forward.load_weights(d)
        same = set(many) == set(one) and all(np.array_equal(many[n], one[n]) for n in one)
        check(ok_one and files_ok and size_ok and same and check_format(d),
              "%s bf16 --shards %d: index, files and weights == one file" % (arch, k))


def check_window_matters(arch, model_dir, logits):
    ref = reference_forward.Model(model_dir)
    ref.windows = [None] * ref.L
    nowin, _ = reference_forward.greedy(ref, PROMPT, logits.shape[0])
    # The first rows see fewer keys than the window: identical; later rows must differ.
    W = min(w for w in reference_forward.Model(model_dir).windows if w)
    early = len(PROMPT) + np.arange(logits.shape[0]) <= W
    # (exaone4's window of 4 is shorter than the prompt: no early rows.)
    check((not early.any() or maxdiff(nowin[early], logits[early]) <= 1e-12)
          and maxdiff(nowin[~early], logits[~early]) > 1e-3,
          "%s: the sliding window changes exactly the rows past %d keys" % (arch, W))


def check_features_matter(arch, model_dir, logits):
    """Each architecture feature, switched off in the reference, changes the logits (so the test model
    exercises it)."""
    def run(mutate, prompt=None):
        ref = reference_forward.Model(model_dir)
        mutate(ref)
        if prompt is None:
            return maxdiff(reference_forward.greedy(ref, PROMPT, logits.shape[0])[0], logits)
        # A prompt of its own: the row of its prefill, against the unchanged model's.
        base = reference_forward.greedy(reference_forward.Model(model_dir), prompt, 1)[0]
        return maxdiff(reference_forward.greedy(ref, prompt, 1)[0], base)

    def setattr_(name, value):
        return lambda r: setattr(r, name, value)

    def cfg_(key, value):
        def f(r):
            r.cfg[key] = value
            r.inv_freq, r.attention_scaling = reference_forward.rope_parameters(r.cfg)
        return f

    def no_clamp(r):
        r.cfg["swiglu_limit"] = float("inf")

    def no_sinks(r):
        for n in range(r.L):
            r.w["model.layers.%d.self_attn.sinks" % n][:] = -np.inf

    def truncate(r):
        r.cfg["rope_scaling"]["truncate"] = True
        r.inv_freq, r.attention_scaling = reference_forward.rope_parameters(r.cfg)

    def no_qkv_bias(r):
        for n in range(r.L):
            for t in "qkv":
                del r.w["model.layers.%d.self_attn.%s_proj.bias" % (n, t)]

    def phi_sequential(r):
        # The same norm before the MLP too, but of x after the attention's residual add.
        r.parallel = False
        for n in range(r.L):
            p = "model.layers.%d." % n
            r.w[p + "post_attention_layernorm.weight"] = r.w[p + "input_layernorm.weight"]
            if p + "input_layernorm.bias" in r.w:                 # Cohere's norms have none
                r.w[p + "post_attention_layernorm.bias"] = r.w[p + "input_layernorm.bias"]

    def no_mlp_bias(r):
        for n in range(r.L):
            for name in ("c_fc", "c_proj"):
                del r.w["model.layers.%d.mlp.%s.bias" % (n, name)]

    def no_shared_expert(r):
        for n in range(r.L):
            r.w["model.layers.%d.mlp.shared_expert.down_proj.weight" % n] = (
                0 * r.w["model.layers.%d.mlp.shared_expert.down_proj.weight" % n])

    def no_positions(r):
        r.w["model.embed_positions.weight"] = 0 * r.w["model.embed_positions.weight"]

    def glm4_pre_norms(r):
        # The norms before the blocks alone (post_attention_layernorm, read as pre_feedforward, before the MLP).
        r.sandwich = False
        for n in range(r.L):
            p = "model.layers.%d." % n
            r.w[p + "post_attention_layernorm.weight"] = r.w[p + "pre_feedforward_layernorm.weight"]

    def shared_qk_gains(r):
        # Every head with head 0's q / k gains (Cohere's [heads, D] rows, StableLM's norms.h).
        for n in range(r.L):
            p = "model.layers.%d.self_attn." % n
            for t, heads in (("q", r.H), ("k", r.Hkv)):
                if p + t + "_norm.weight" in r.w:
                    r.w[p + t + "_norm.weight"] = np.broadcast_to(r.w[p + t + "_norm.weight"][:1], (heads, r.D))
                else:
                    for h in range(heads):
                        r.w[p + "%s_layernorm.norms.%d.weight" % (t, h)] = r.w[p + "%s_layernorm.norms.0.weight" % t]

    def olmo2_pre_norms(r):
        # The same gains before each block instead of after it.
        r.post_norms = False
        for n in range(r.L):
            p = "model.layers.%d." % n
            r.w[p + "input_layernorm.weight"] = r.w[p + "post_attention_layernorm.weight"]
            r.w[p + "post_attention_layernorm.weight"] = r.w[p + "post_feedforward_layernorm.weight"]

    def olmoe_post_norms(r):
        # OLMo 2's placement with the same gains: input_layernorm's after attention, post_attention_layernorm's
        # (before the MLP) after the MLP.
        r.post_norms = True
        for n in range(r.L):
            p = "model.layers.%d." % n
            r.w[p + "post_feedforward_layernorm.weight"] = r.w[p + "post_attention_layernorm.weight"]
            r.w[p + "post_attention_layernorm.weight"] = r.w[p + "input_layernorm.weight"]

    def per_head_qk_norms(r):
        # Qwen 3's statistics over each head's D dims, the [H*D] / [KV*D] gains read as [H, D] / [KV, D].
        r.qk_norm_projection, r.qk_norm = False, True
        for n in range(r.L):
            p = "model.layers.%d.self_attn." % n
            r.w[p + "q_norm.weight"] = r.w[p + "q_norm.weight"].reshape(r.H, r.D)
            r.w[p + "k_norm.weight"] = r.w[p + "k_norm.weight"].reshape(r.Hkv, r.D)

    def cohere2_types(sliding):
        # The layers `sliding` marks slide (window 8) and rotate, the others attend to everything without RoPE.
        def f(r):
            r.windows = [8 if t else None for t in sliding]
            r.rope_layers = list(sliding)
        return f

    def exaone_pattern_types(r):
        # The layer types sliding_window_pattern 4 gives (layers 0-2 slide, 3 is full and NoPE), not the listed ones.
        r.windows = [r.cfg["sliding_window"]] * 3 + [None]
        r.rope_layers = [True] * 3 + [False]

    def no_biases(names):
        def f(r):
            for n in range(r.L):
                for name in names:
                    del r.w["model.layers.%d.%s.bias" % (n, name)]
        return f

    def zeroed(suffix):
        # Every layer's tensor `suffix` (where the layer has it) set to 0.
        def f(r):
            for n in range(r.L):
                name = "model.layers.%d.%s" % (n, suffix)
                if name in r.w:
                    r.w[name] = 0 * r.w[name]
        return f

    def no_norm_biases(r):
        # nn.LayerNorm's biases (every layer's two and model.norm's) set to 0.
        for name in [x for x in r.w if x.endswith("layernorm.bias") or x == "model.norm.bias"]:
            r.w[name] = 0 * r.w[name]

    def longrope_attention_factor(r):
        # longrope's own multiplier of cos and sin (Phi-3's: sqrt(1 + ln(64 / 16) / ln 16)) in place of the mscales.
        factor = reference_forward.rope_parameters(r.cfg)[1]
        r.attention_scaling = factor
        r.long_rope = r.long_rope[:2] + (factor,)

    def dense_on(layers, **settings):
        # Layer 0's dense MLP (its mlp.{gate,up,down}_proj copied) on the given mixture layers too, the config saying
        # so: the mixtures the model reads there matter.
        def f(r):
            for n in layers:
                for t in ("gate_proj", "up_proj", "down_proj"):
                    r.w["model.layers.%d.mlp.%s.weight" % (n, t)] = r.w["model.layers.0.mlp.%s.weight" % t]
            r.cfg.update(settings)
        return f

    def mixture_on(layers, **settings):
        # Layer 1's mixture (its mlp.* tensors copied) on the given dense layers too, the config saying so: the dense
        # MLPs the model reads there matter.
        def f(r):
            src = "model.layers.1.mlp."
            for name in [x for x in r.w if x.startswith(src)]:
                for n in layers:
                    r.w["model.layers.%d.mlp.%s" % (n, name[len(src):])] = r.w[name]
            r.cfg.update(settings)
        return f

    def sigmoid_routing(kept, groups, top, masked=True):
        """glm4_moe's, dots1's and deepseek_v3's mixture, routed alike (DeepseekV3MoE's code): sigmoid scores over 8
        experts in `groups` groups, the top `kept` groups, the top `top` experts by score + e_score_correction_bias,
        routed_scaling_factor 2.5, shared experts, layer 0 dense by first_k_dense_replace 1. One list, so that a
        routing check added for one model is made on the others too; `masked`: whether the dropped groups' experts
        scoring 0.0 win in some routing (deepseek_v3's top 2 of the kept group of 4 never reach them)."""
        return (
            ("e_score_correction_bias in the choice (vs none)", zeroed("mlp.gate.e_score_correction_bias")),
            ("weights without the correction bias (vs with it)", setattr_("weights_with_correction", True)),
            ("group limit, topk_group %d of n_group %d (vs every group)" % (kept, groups), cfg_("topk_group", groups)),
        ) + ((("dropped groups' experts scoring 0.0 (vs -inf: they win over negative scores)",
               setattr_("masked_group_score", -np.inf)),) if masked else ()) + (
            ("routed_scaling_factor 2.5 (vs 1)", cfg_("routed_scaling_factor", 1.0)),
            ("norm_topk_prob true (vs the sigmoids as they are)", cfg_("norm_topk_prob", False)),
            ("top-%d routing (vs top-1)" % top, cfg_("num_experts_per_tok", 1)),
            ("shared experts (vs none)", zeroed("mlp.shared_experts.down_proj.weight")),
            ("dense MLP on layer 0, first_k_dense_replace 1 (vs layer 1's mixture there)",
             mixture_on([0], first_k_dense_replace=0)))

    def no_norm(suffix):
        # The RMSNorm `suffix` names (gains and normalization) left out: its input as it is.
        def f(r):
            norm = r.norm
            r.norm = lambda x, name: x if name.endswith(suffix) else norm(x, name)
        return f

    def gated_by_up(r):
        # Llama's gated form, down(act(gate x) * up x), with up_proj's weights (and bias) as gate_proj's: a runtime that
        # read Arcee's MLP as Llama's with its one input projection in both roles.
        r.gated_mlp = True
        for n in range(r.L):
            p = "model.layers.%d.mlp." % n
            for t in ("weight", "bias"):
                if p + "up_proj." + t in r.w:
                    r.w[p + "gate_proj." + t] = r.w[p + "up_proj." + t]

    def untruncated(r):
        # yarn's correction range as computed (truncate false), not floored and ceiled (truncate unset: true).
        r.cfg["rope_scaling"]["truncate"] = False
        r.inv_freq, r.attention_scaling = reference_forward.rope_parameters(r.cfg)

    def no_k_rot(r):
        # kv_a_proj_with_mqa's last qk_rope_head_dim rows (the RoPE key shared by every head) set to 0.
        for n in range(r.L):
            name = "model.layers.%d.self_attn.kv_a_proj_with_mqa.weight" % n
            r.w[name] = r.w[name].copy()
            r.w[name][r.cfg["kv_lora_rank"]:] = 0

    features = {
        "gptoss": (("swiglu clamp", no_clamp), ("sinks", no_sinks), ("yarn truncate=false", truncate),
                   ("yarn attention factor", setattr_("attention_scaling", 1.0))),
        "gemma2": (("attention soft cap", setattr_("attn_softcap", None)),
                   ("final soft cap", setattr_("final_softcap", None)),
                   ("sandwich norms", setattr_("sandwich", False)),
                   ("(1 + w) norm", setattr_("unit_offset", False)),
                   ("embedding scale", setattr_("embed_scale", 1.0)),
                   ("query_pre_attn_scalar", lambda r: setattr(r, "scale", r.D ** -0.5))),
        "gemma": (("(1 + w) norm", setattr_("unit_offset", False)),
                  ("embedding scale", setattr_("embed_scale", 1.0))),
        "qwen3": (("q/k norms", setattr_("qk_norm", False)),),
        "qwen2": (("q/k/v biases", no_qkv_bias),),
        "qwen2moe": (("q/k/v biases", no_qkv_bias),
                     ("shared expert gate", setattr_("shared_gate", False)),
                     ("shared expert", no_shared_expert),
                     ("top-2 routing (vs top-1)", lambda r: r.cfg.__setitem__("num_experts_per_tok", 1))),
        "mixtral": (("top-2 renormalization", setattr_("moe_renormalize", False)),
                    ("top-2 routing (vs top-1)", lambda r: r.cfg.__setitem__("num_experts_per_tok", 1))),
        "phi3": (("partial rotary factor", cfg_("partial_rotary_factor", 1.0)),),
        "gemma3": (("sandwich norms", setattr_("sandwich", False)),
                   ("(1 + w) norm", setattr_("unit_offset", False)),
                   ("q/k norms", setattr_("qk_norm", False)),
                   ("sliding layers' own RoPE", setattr_("local_rope", None)),
                   ("linear RoPE scaling of the full layers", cfg_("rope_scaling", None)),
                   ("query_pre_attn_scalar", lambda r: setattr(r, "scale", r.D ** -0.5))),
        "granite": (("embedding multiplier", setattr_("embed_scale", 1.0)),
                    ("residual multiplier", setattr_("residual_scale", 1.0)),
                    ("attention multiplier (vs head_dim^-0.5)", lambda r: setattr(r, "scale", r.D ** -0.5)),
                    ("logits scaling", setattr_("logit_scale", 1.0))),
        "olmo2": (("post norms (vs pre norms)", olmo2_pre_norms),
                  ("projection-wide q/k norms (vs none)", setattr_("qk_norm_projection", False))),
        "granitemoe": (("embedding multiplier", setattr_("embed_scale", 1.0)),
                       ("residual multiplier", setattr_("residual_scale", 1.0)),
                       ("logits scaling", setattr_("logit_scale", 1.0)),
                       ("top-2 routing (vs top-1)", lambda r: r.cfg.__setitem__("num_experts_per_tok", 1))),
        "stablelm": (("layer norms (vs RMSNorm)", setattr_("layer_norm", False)),
                     ("q/k/v biases", no_qkv_bias),
                     ("partial rotary factor", cfg_("partial_rotary_factor", 1.0))),
        "starcoder2": (("layer norms (vs RMSNorm)", setattr_("layer_norm", False)),
                       ("MLP biases", no_mlp_bias)),
        "phi": (("parallel residual (vs sequential)", phi_sequential),
                ("lm_head bias", lambda r: r.w.pop("lm_head.bias")),
                ("partial rotary factor", cfg_("partial_rotary_factor", 1.0))),
        "smollm3": (("NoPE layer", setattr_("rope_layers", [True, True])),),
        "cohere": (("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                   ("parallel residual (vs sequential)", phi_sequential),
                   ("logit scale", setattr_("logit_scale", 1.0)),
                   ("layer norms without bias (vs RMSNorm)", setattr_("layer_norm", False))),
        # sliding_window_pattern 4: layers 0-2 slide over 8 keys (check_window_matters) and rotate, layer 3 full and
        # NoPE.
        "cohere2": (("sliding window on layers 0-2 (vs none)", setattr_("windows", [None] * 4)),
                    ("full attention on layer 3 (vs the window there too)", setattr_("windows", [8] * 4)),
                    ("NoPE on the full layer 3 (vs RoPE there)", setattr_("rope_layers", [True] * 4)),
                    ("RoPE on the sliding layers 0-2 (vs none anywhere)", setattr_("rope_layers", [False] * 4)),
                    ("layer types of sliding_window_pattern 4 (vs every layer sliding and rotated)",
                     cohere2_types([True] * 4)),
                    ("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                    ("rope_theta 5e4 (vs 1e4)", cfg_("rope_theta", 10000.0)),
                    ("parallel residual (vs sequential)", phi_sequential),
                    ("logit scale 0.25 (vs 1)", setattr_("logit_scale", 1.0)),
                    ("layer norms without bias (vs RMSNorm)", setattr_("layer_norm", False))),
        # gen_tiny_model --layer-types: full, sliding, sliding, full, beside a sliding_window_pattern 4 that must be
        # ignored.
        "cohere2 --layer-types": (("listed layer_types (vs the pattern's: 0-2 sliding, 3 full)",
                                   cohere2_types([True, True, True, False])),
                                  ("sliding window on layers 1 and 2 (vs none)", setattr_("windows", [None] * 4)),
                                  ("NoPE on the full layers 0 and 3 (vs RoPE there)",
                                   setattr_("rope_layers", [True] * 4))),
        # gen_tiny_model --attention-bias: attention_bias true, biases on q, k, v and o_proj.
        "cohere2 --attention-bias": (("q/k/v biases (vs none)", no_qkv_bias),
                                     ("o_proj bias (vs q/k/v only)", no_biases(("self_attn.o_proj",)))),
        # gen_tiny_model --untied: tie_word_embeddings false, an lm_head.weight of its own.
        "cohere2 --untied": (("lm_head.weight (vs the tied embeddings)",
                              lambda r: setattr(r, "lm_head", r.w["model.embed_tokens.weight"])),),
        "gpt2": (("learned positions", no_positions),
                 ("exact-form GELU (vs its tanh form)", setattr_("act", reference_forward.ACTIVATIONS["gelu"]))),
        "glm4": (("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                 ("sandwich norms", glm4_pre_norms)),
        "glm": (("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                ("q/k/v biases", no_qkv_bias),
                ("partial rotary factor", cfg_("partial_rotary_factor", 1.0))),
        "gptneox": (("parallel residual (vs sequential)", setattr_("parallel", False)),
                    ("MLP's own norm (vs the attention's)", setattr_("parallel_mlp_norm", False)),
                    ("exact GELU (vs its tanh form)", setattr_("act", reference_forward.ACTIVATIONS["gelu_new"])),
                    ("partial rotary factor", cfg_("partial_rotary_factor", 1.0))),
        "qwen3moe": (("q/k norms", setattr_("qk_norm", False)),
                     ("norm_topk_prob false (vs renormalized)", cfg_("norm_topk_prob", True)),
                     ("top-2 routing (vs top-1)", lambda r: r.cfg.__setitem__("num_experts_per_tok", 1))),
        "olmoe": (("pre norms (vs OLMo 2's post norms)", olmoe_post_norms),
                  ("projection-wide q/k norms (vs none)", setattr_("qk_norm_projection", False)),
                  ("projection-wide q/k norms (vs per head)", per_head_qk_norms),
                  ("norm_topk_prob false (vs renormalized)", cfg_("norm_topk_prob", True)),
                  ("top-2 routing (vs top-1)", lambda r: r.cfg.__setitem__("num_experts_per_tok", 1))),
        # head_dim 32 where hidden / heads is 16: a runtime that derived it would scale the scores by 16^-0.5 and
        # rotate the first 16 dims of each head at 16-dim frequencies.
        "ernie4_5": (("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                     ("q/k/v/o biases (vs none)", no_biases(("self_attn.q_proj", "self_attn.k_proj",
                                                             "self_attn.v_proj", "self_attn.o_proj"))),
                     ("o_proj bias (vs GLM's q/k/v only)", no_biases(("self_attn.o_proj",))),
                     ("MLP biases (vs none)", no_biases(("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"))),
                     ("head_dim 32's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5)),
                     ("RoPE over head_dim 32 (vs hidden / heads = 16 dims)", cfg_("partial_rotary_factor", 0.5))),
        "ernie4_5 --no-bias": (("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),),
        # attention_bias and mlp_bias true (false in the published helium-1-2b); o_proj has no bias either way.
        "helium": (("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                   ("q/k/v biases (vs none)", no_qkv_bias),
                   ("MLP biases (vs none)", no_biases(("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")))),
        # Layers 0-2 slide over 4 keys (check_window_matters), layer 3 full and NoPE; head_dim 32 as ernie4_5's.
        "exaone4": (("post norms (vs pre norms)", olmo2_pre_norms),
                    ("per-head q/k norms (vs none)", setattr_("qk_norm", False)),
                    ("NoPE on the full layer 3 (vs RoPE there)", setattr_("rope_layers", [True] * 4)),
                    ("head_dim 32's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5)),
                    ("RoPE over head_dim 32 (vs hidden / heads = 16 dims)", cfg_("partial_rotary_factor", 0.5)),
                    ("llama3 RoPE scaling (vs none)", cfg_("rope_scaling", None))),
        # gen_tiny_model --layer-types: sliding, full, sliding, full, beside a pattern "LLLG" that must be ignored.
        "exaone4 --layer-types": (("listed layer_types (vs the pattern's: 0-2 sliding, 3 full)", exaone_pattern_types),
                                  ("sliding window on layers 0 and 2 (vs none)", setattr_("windows", [None] * 4)),
                                  ("NoPE on the full layers 1 and 3 (vs RoPE there)",
                                   setattr_("rope_layers", [True] * 4))),
        # gen_tiny_model --no-window: sliding_window null, every layer full and rotated.
        "exaone4 --no-window": (("RoPE on every layer (vs NoPE on the full ones, here all)",
                                 setattr_("rope_layers", [False] * 4)),),
        # head_dim 32 where hidden / heads is 16, as ernie4_5's; rope_theta 1e7 as published: the first dims of each
        # head still turn (inv_freq 1, 0.37, 0.13, ...) over these 72 positions.
        "seed_oss": (("q/k/v biases (vs none)", no_qkv_bias),
                     ("head_dim 32's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5)),
                     ("RoPE over head_dim 32 (vs hidden / heads = 16 dims)", cfg_("partial_rotary_factor", 0.5)),
                     ("RoPE (vs none)", setattr_("rope_layers", [False] * 2)),
                     ("rope_theta 1e7 (vs 1e4)", cfg_("rope_theta", 10000.0))),
        # gen_tiny_model --all-biases: attention_out_bias and mlp_bias true.
        "seed_oss --all-biases": (("q/k/v biases (vs none)", no_qkv_bias),
                                  ("o_proj bias (vs q/k/v only)", no_biases(("self_attn.o_proj",))),
                                  ("MLP biases (vs none)",
                                   no_biases(("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")))),
        # Layers 0-2 slide over 4 keys (check_window_matters: every layer's window vs none), layer 3 full; every layer
        # rotated.
        "olmo3": (("sliding window on layers 0-2 (vs none)", setattr_("windows", [None] * 4)),
                  ("full attention on layer 3 (vs the window there too)", setattr_("windows", [4] * 4)),
                  ("RoPE on the full layer 3 (vs NoPE there, as EXAONE 4.0's)",
                   setattr_("rope_layers", [True] * 3 + [False])),
                  ("post norms (vs pre norms)", olmo2_pre_norms),
                  ("projection-wide q/k norms (vs none)", setattr_("qk_norm_projection", False)),
                  ("projection-wide q/k norms (vs per head)", per_head_qk_norms)),
        # gen_tiny_model --layer-types: full, sliding, full, sliding.
        "olmo3 --layer-types": (("listed layer_types (vs the default: 0-2 sliding, 3 full)",
                                 setattr_("windows", [4] * 3 + [None])),
                                ("sliding window on layers 1 and 3 (vs none)", setattr_("windows", [None] * 4)),
                                ("RoPE on the full layers 0 and 2 (vs NoPE there)",
                                 setattr_("rope_layers", [False, True, False, True]))),
        # gen_tiny_model --norm-topk-prob: the chosen two's weights renormalized.
        "olmoe --norm-topk-prob": (("norm_topk_prob true (vs the softmax over all)", cfg_("norm_topk_prob", False)),),
        # Layer 0 dense, layers 1-2 the mixture: 8 experts in 4 groups, top 2 groups, top 3 experts; head_dim 24 where
        # hidden / heads is 16.
        "glm4_moe": sigmoid_routing(2, 4, 3) + (
            ("q/k/v biases (vs none)", no_qkv_bias),
            ("rotate-half RoPE (vs GLM's adjacent pairs)", setattr_("interleaved_rope", True)),
            ("partial rotary factor 0.5 (vs 1)", cfg_("partial_rotary_factor", 1.0)),
            ("head_dim 24's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5))),
        # Layers 1-3 the mixture (moe_layer_start_index 1, moe_layer_end_index 3), 0 and 4 dense: softmax router over
        # 8 experts, top 3 by p + e_score_correction_bias, weighted by p / max(sum, moe_norm_min), 2 shared experts;
        # head_dim 32 where hidden / heads is 16, as ernie4_5's.
        "ernie4_5_moe": (("e_score_correction_bias in the choice (vs none)",
                          zeroed("mlp.moe_statics.e_score_correction_bias")),
                         ("weights without the correction bias (vs with it)",
                          setattr_("weights_with_correction", True)),
                         ("moe_norm_min 1e-12 (vs 1.0: the clamp keeps the chosen probabilities as they are)",
                          cfg_("moe_norm_min", 1.0)),
                         ("top-3 routing (vs top-1)", cfg_("moe_k", 1)),
                         ("shared experts (vs none)", zeroed("mlp.shared_experts.down_proj.weight")),
                         ("dense MLP on layer 0, moe_layer_start_index 1 (vs layer 1's mixture there)",
                          mixture_on([0], moe_layer_start_index=0)),
                         ("dense MLP on layer 4, moe_layer_end_index 3 (vs layer 1's mixture there)",
                          mixture_on([4], moe_layer_end_index=4)),
                         ("interleaved RoPE (vs rotate-half)", setattr_("interleaved_rope", False)),
                         ("head_dim 32's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5)),
                         ("RoPE over head_dim 32 (vs hidden / heads = 16 dims)", cfg_("partial_rotary_factor", 0.5))),
        # gen_tiny_model --interval: moe_layer_interval 2, moe_layer_end_index -1 (4): layers 1 and 3 the mixtures.
        "ernie4_5_moe --interval": (("dense MLPs on layers 2 and 4, moe_layer_interval 2 (vs layer 1's mixture there)",
                                     mixture_on([2, 4], moe_layer_interval=1)),
                                    ("moe_layer_end_index -1 as num_hidden_layers - 1 (vs -1 literally: no mixture)",
                                     dense_on([1, 3], moe_layer_end_index=-1))),
        # gen_tiny_model --no-shared: moe_num_shared_experts 0.
        "ernie4_5_moe --no-shared": (("e_score_correction_bias in the choice (vs none)",
                                      zeroed("mlp.moe_statics.e_score_correction_bias")),
                                     ("top-3 routing (vs top-1)", cfg_("moe_k", 1))),
        # Layer 0 dense, layers 1-3 the mixture routed as glm4_moe's: 8 experts in 4 groups, top 2 groups, top 3
        # experts; Qwen 3's per-head q/k norms; head_dim 24 where hidden / heads is 16, rotated whole (not glm4_moe's
        # half).
        "dots1": sigmoid_routing(2, 4, 3) + (
            ("per-head q/k RMSNorms (vs none)", setattr_("qk_norm", False)),
            ("RoPE over the whole head (vs glm4_moe's partial_rotary_factor 0.5)", cfg_("partial_rotary_factor", 0.5)),
            ("head_dim 24's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5))),
        # gen_tiny_model --all-biases: attention_bias true, biases on q, k, v and o_proj.
        "dots1 --all-biases": (("q/k/v biases (vs none)", no_qkv_bias),
                               ("o_proj bias (vs q/k/v only, as glm4_moe's)", no_biases(("self_attn.o_proj",)))),
        # gen_tiny_model --layer-types: sliding_window 16, layer_types full, sliding, full, sliding.
        "dots1 --layer-types": (("sliding window on layers 1 and 3 (vs none)", setattr_("windows", [None] * 4)),
                                ("full attention on layers 0 and 2 (vs the window there too)",
                                 setattr_("windows", [16] * 4))),
        # Every layer SparseMixer-routed over 6 experts (router_jitter_noise 0.01); nn.LayerNorms with biases; biases on
        # q, k, v, o_proj and the lm_head; longrope (original_max_position_embeddings 16) with short_mscale /
        # long_mscale 1.243. The 5-token prompt's decode passes 16 tokens at its row 12; the 20-token prompt's prefill
        # is past them already.
        "phimoe": (("router_jitter_noise 0.01 in SparseMixer's masks (vs 0.5)",
                    lambda r: r.cfg.__setitem__("router_jitter_noise", 0.5)),
                   ("SparseMixer routing (vs Mixtral's top-2 softmax)", setattr_("moe", "mixtral")),
                   ("layer norm biases (vs none)", no_norm_biases),
                   ("layer norms (vs RMSNorm)", setattr_("layer_norm", False)),
                   ("q/k/v biases (vs none)", no_qkv_bias),
                   ("o_proj bias (vs q/k/v only)", no_biases(("self_attn.o_proj",))),
                   ("lm_head bias", lambda r: r.w.pop("lm_head.bias")),
                   ("short_mscale / long_mscale 1.243 (vs longrope's attention factor sqrt(1 + ln 4 / ln 16))",
                    longrope_attention_factor),
                   ("short_factor (vs plain RoPE)", lambda r: setattr(
                       r, "inv_freq", reference_forward.rope_parameters(dict(r.cfg, rope_scaling=None))[0])),
                   ("long_factor past original_max_position_embeddings 16 (vs short_factor; a 20-token prompt's "
                    "prefill)", lambda r: setattr(r, "long_rope", (r.long_rope[0], r.inv_freq, r.long_rope[2])),
                    [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4])),
        # Multi-head latent attention: q through q_lora_rank 32, keys and values through a kv_lora_rank 16 latent, 16
        # query / key dims without RoPE and 8 with it (one RoPE key for every head), de-interleaved before rotate-half;
        # layer 0 dense, layers 1-2 the mixture routed as glm4_moe's: 8 experts in 2 groups, top 1 group, top 2 experts.
        "deepseek_v3": sigmoid_routing(1, 2, 2, masked=False) + (
            ("rope_interleave: de-interleaved before rotate-half (vs rotate-half as stored)",
             setattr_("interleaved_rope", False)),
            ("q_a_layernorm between q_a_proj and q_b_proj (vs none)", no_norm("q_a_layernorm")),
            ("kv_a_layernorm on the latent (vs none)", no_norm("kv_a_layernorm")),
            ("RoPE key shared by every head, from kv_a_proj_with_mqa (vs none)", no_k_rot),
            ("score scale (qk_nope_head_dim + qk_rope_head_dim)^-0.5 = 24^-0.5 (vs (hidden / heads)^-0.5)",
             setattr_("scale", 16 ** -0.5))),
        # gen_tiny_model --no-q-lora: q_lora_rank null, one q_proj.
        "deepseek_v3 --no-q-lora": (("rope_interleave: de-interleaved before rotate-half (vs rotate-half as stored)",
                                     setattr_("interleaved_rope", False)),),
        # gen_tiny_model --no-interleave: rope_interleave false.
        "deepseek_v3 --no-interleave": (("rotate-half as stored (vs de-interleaved first)",
                                         setattr_("interleaved_rope", True)),),
        # gen_tiny_model --yarn: factor 4 over 128 positions, mscale 1.0, mscale_all_dim 0.8.
        "deepseek_v3 --yarn": (("yarn's frequencies (vs plain RoPE)", lambda r: setattr(
                                    r, "inv_freq",
                                    reference_forward.rope_parameters(dict(r.cfg, rope_scaling=None))[0])),
                               ("cos and sin times mscale(1.0) / mscale(0.8) = 1.025 (vs yarn's 0.1 ln 4 + 1)",
                                setattr_("attention_scaling", 0.1 * math.log(4) + 1)),
                               ("cos and sin times mscale(1.0) / mscale(0.8) = 1.025 (vs 1)",
                                setattr_("attention_scaling", 1.0)),
                               ("scores times mscale(0.8)^2 = 1.234 (vs 24^-0.5 alone)",
                                setattr_("scale", 24 ** -0.5))),
        # gen_tiny_model --attention-bias: attention_bias true.
        "deepseek_v3 --attention-bias": (("q_a_proj bias (vs none)", no_biases(("self_attn.q_a_proj",))),
                                         ("kv_a_proj_with_mqa bias (vs none)",
                                          no_biases(("self_attn.kv_a_proj_with_mqa",))),
                                         ("o_proj bias (vs none)", no_biases(("self_attn.o_proj",)))),
        # gen_tiny_model --no-rope-scaling: rope_scaling null.
        "phimoe --no-rope-scaling": (("SparseMixer routing (vs Mixtral's top-2 softmax)", setattr_("moe", "mixtral")),),
        # Llama's blocks with ArceeMLP: down_proj(relu2(up_proj x)), no gate.
        "arcee": (("relu2 = relu(x)^2 (vs relu)", setattr_("act", reference_forward.ACTIVATIONS["relu"])),
                  ("relu2 (vs silu, LlamaConfig's hidden_act)", setattr_("act", reference_forward.ACTIVATIONS["silu"])),
                  ("relu before the square (vs x^2)", setattr_("act", lambda x: x * x)),
                  ("MLP without a gate, down(act(up x)) (vs down(act(gate x) * up x) with gate_proj = up_proj)",
                   gated_by_up)),
        # gen_tiny_model --relu: hidden_act relu.
        "arcee --relu": (("relu (vs relu2)", setattr_("act", reference_forward.ACTIVATIONS["relu2"])),
                         ("relu (vs silu)", setattr_("act", reference_forward.ACTIVATIONS["silu"]))),
        # gen_tiny_model --mlp-bias: mlp_bias true, biases on up_proj and down_proj.
        "arcee --mlp-bias": (("up_proj bias (vs none)", no_biases(("mlp.up_proj",))),
                             ("down_proj bias (vs none)", no_biases(("mlp.down_proj",)))),
        # gen_tiny_model --yarn: AFM-4.5B's form, factor 4 over 128 positions, mscale 1.0 and no mscale_all_dim.
        "arcee --yarn": (("yarn's frequencies (vs plain RoPE)", lambda r: setattr(
                              r, "inv_freq", reference_forward.rope_parameters(dict(r.cfg, rope_scaling=None))[0])),
                         ("yarn's correction range floored and ceiled (vs truncate false)", untruncated),
                         ("cos and sin times mscale(4) = 0.1 ln 4 + 1 (vs rope_scaling's mscale 1.0 itself)",
                          setattr_("attention_scaling", 1.0))),
        # Arcee's MLP with NemotronLayerNorm1P everywhere ((1 + w), biases), RoPE on the first 12 of head_dim 24's dims
        # (partial_rotary_factor 0.5) where hidden / heads is 16.
        "nemotron": (("layer norms' (1 + w), NemotronLayerNorm1P (vs w)", setattr_("unit_offset", False)),
                     ("layer norm biases (vs none)", no_norm_biases),
                     ("layer norms (vs (1 + w) RMSNorm)", setattr_("layer_norm", False)),
                     ("relu2 = relu(x)^2 (vs relu)", setattr_("act", reference_forward.ACTIVATIONS["relu"])),
                     ("relu before the square (vs x^2)", setattr_("act", lambda x: x * x)),
                     ("MLP without a gate, down(act(up x)) (vs down(act(gate x) * up x) with gate_proj = up_proj)",
                      gated_by_up),
                     ("partial rotary factor 0.5 (vs 1)", cfg_("partial_rotary_factor", 1.0)),
                     ("head_dim 24's score scale (vs (hidden / heads)^-0.5)", setattr_("scale", 16 ** -0.5)),
                     ("RoPE over int(0.5 * head_dim 24) = 12 dims (vs 8, half of hidden / heads = 16)", lambda r: setattr(
                         r, "inv_freq", reference_forward.rope_parameters(dict(r.cfg, head_dim=16))[0]))),
        # gen_tiny_model --attention-bias: attention_bias true, biases on q, k, v and o_proj.
        "nemotron --attention-bias": (("q/k/v biases (vs none)", no_qkv_bias),
                                      ("o_proj bias (vs q/k/v only)", no_biases(("self_attn.o_proj",)))),
        # gen_tiny_model --mlp-bias: mlp_bias true, biases on up_proj and down_proj.
        "nemotron --mlp-bias": (("up_proj bias (vs none)", no_biases(("mlp.up_proj",))),
                                ("down_proj bias (vs none)", no_biases(("mlp.down_proj",)))),
        # gen_tiny_model --qk-norm: use_qk_norm true.
        "glm4_moe --qk-norm": (("per-head q/k RMSNorms (vs none)", setattr_("qk_norm", False)),),
        # gen_tiny_model --single-group: n_group 1, topk_group 1, routed_scaling_factor 1, one shared expert.
        "glm4_moe --single-group": (("e_score_correction_bias in the choice (vs none)",
                                     zeroed("mlp.gate.e_score_correction_bias")),
                                    ("weights without the correction bias (vs with it)",
                                     setattr_("weights_with_correction", True)),
                                    ("top-3 routing (vs top-1)", cfg_("num_experts_per_tok", 1)),
                                    ("shared expert (vs none)", zeroed("mlp.shared_experts.down_proj.weight"))),
    }
    # gen_tiny_model --mixed-layers: layer 1 the mixture, 0 and 2 dense by decoder_sparse_step 2, 3 by mlp_only_layers.
    for a in ("qwen3moe --mixed-layers", "qwen2moe --mixed-layers"):
        features[a] = (("dense MLPs on layers 0 and 2, decoder_sparse_step 2 (vs layer 1's mixture there)",
                        mixture_on([0, 2], decoder_sparse_step=1)),
                       ("dense MLP on layer 3, mlp_only_layers [3] (vs layer 1's mixture there)",
                        mixture_on([3], mlp_only_layers=[])))
    # gen_tiny_model --qk-norm (use_qk_norm / qk_layernorm): the norms, and each head's own gains.
    for a in ("cohere --qk-norm", "stablelm --qk-norm", "stablelm --parallel-residual --qk-norm"):
        features[a] = (("per-head q/k layer norms (vs none)", setattr_("qk_head_norm", False)),
                       ("each head's own q/k gains (vs head 0's)", shared_qk_gains))
    for name, f, *prompt in features.get(arch, ()):
        d = run(f, *prompt)
        check(d > 1e-3, "%s: the model exercises the %s" % (arch, name), "logits move by %.3g without it" % d)


def check_importer(xfc, arch, model_dir):
    if not xfc or not os.path.exists(xfc):
        print("SKIP  %s: xfc --emit=spec (no %s)" % (arch, xfc))
        return
    r = subprocess.run([xfc, os.path.join(model_dir, "config.json"), "--emit=spec"], capture_output=True, text=True)
    check(r.returncode == 0, "%s: xfc --emit=spec accepts config.json" % arch, r.stderr.strip()[-300:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--keep", help="generate the models under this folder and keep them")
    default_xfc = os.path.join(HERE, "..", "..", "build", "bin", "xfc")
    ap.add_argument("--xfc", default=os.path.normpath(default_xfc))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    root = args.keep or tempfile.mkdtemp(prefix="xf-tiny-")
    os.makedirs(root, exist_ok=True)
    try:
        for arch in ARCHS:
            d = gen(root, arch)
            check_importer(args.xfc, arch, d)
            logits, tokens = check_decode(arch + " f32", d, args.max_new)
            check_cli(arch + " f32", d, args.max_new, logits, tokens, root)
            if any(reference_forward.Model(d).windows):
                check_window_matters(arch, d, logits)
            check_features_matter(arch, d, logits)
            check_rounding(root, arch)
            check_shards(root, arch)
            for dtype in ("bf16", "f16"):
                check_decode("%s %s" % (arch, dtype), gen(root, arch, dtype), args.max_new)
            check_decode("%s bf16 shards=2 seed=1" % arch, gen(root, arch, "bf16", 2, seed=1), args.max_new)
        # Forms of a family that its default tiny model does not take: StableLM's parallel residual (as Phi's),
        # GPT-NeoX in Llama's order and with the buffers older checkpoints saved, GPT-2 saved from GPT2Model
        # (no transformer. prefix) and untied, Qwen2-MoE's shared expert without its gate (a .xf spec's), Cohere's
        # and StableLM's per-head q/k norms (Command R+; StableLM 2 12B, which has the parallel residual too), OLMoE's
        # renormalized routing (norm_topk_prob true), ERNIE 4.5 without biases (use_bias false, as published), EXAONE
        # 4.0 with layer_types listed (as the 32B) and without a window (every layer rotated), Seed-OSS with biases on
        # o_proj and the MLP too, OLMo 3 with layer_types listed (not the default pattern), GLM-4.5 MoE with q/k norms
        # (as GLM-4.5) and in the published single-group routing form, Qwen2/3-MoE with dense layers, ERNIE 4.5 MoE with
        # its mixtures every other layer up to the last (moe_layer_end_index -1) and without shared experts, dots.llm1
        # with biases on q, k, v and o_proj and with layer_types listed (two sliding layers), Phi-3.5-MoE without
        # rope_scaling, Cohere 2 with layer_types listed (not the pattern's), with biases on q, k, v and o_proj and
        # untied, Arcee with AFM-4.5B's yarn, with MLP biases and with plain relu, Nemotron tied, with biases on q, k, v
        # and o_proj and with MLP biases.
        for arch, dtype, flag in (("stablelm", "f32", "--parallel-residual"), ("gptneox", "f32", "--sequential-residual"),
                                  ("gptneox", "f16", "--neox-buffers"), ("gpt2", "f32", "--base-model-names"),
                                  ("gpt2", "f32", "--untied"), ("qwen2moe", "f32", "--no-shared-gate"),
                                  ("cohere", "f32", "--qk-norm"), ("cohere", "bf16", "--qk-norm"),
                                  ("stablelm", "f32", "--qk-norm"), ("stablelm", "bf16", "--qk-norm"),
                                  ("stablelm", "f32", "--parallel-residual --qk-norm"),
                                  ("olmoe", "f32", "--norm-topk-prob"), ("olmoe", "bf16", "--norm-topk-prob"),
                                  ("ernie4_5", "f32", "--no-bias"), ("ernie4_5", "bf16", "--no-bias"),
                                  ("exaone4", "f32", "--layer-types"), ("exaone4", "bf16", "--layer-types"),
                                  ("exaone4", "f32", "--no-window"), ("exaone4", "bf16", "--no-window"),
                                  ("seed_oss", "f32", "--all-biases"), ("seed_oss", "bf16", "--all-biases"),
                                  ("olmo3", "f32", "--layer-types"), ("olmo3", "bf16", "--layer-types"),
                                  ("glm4_moe", "f32", "--qk-norm"), ("glm4_moe", "bf16", "--qk-norm"),
                                  ("glm4_moe", "f32", "--single-group"), ("glm4_moe", "bf16", "--single-group"),
                                  ("qwen3moe", "f32", "--mixed-layers"), ("qwen3moe", "bf16", "--mixed-layers"),
                                  ("qwen2moe", "f32", "--mixed-layers"), ("qwen2moe", "bf16", "--mixed-layers"),
                                  ("ernie4_5_moe", "f32", "--interval"), ("ernie4_5_moe", "bf16", "--interval"),
                                  ("ernie4_5_moe", "f32", "--no-shared"), ("ernie4_5_moe", "bf16", "--no-shared"),
                                  ("dots1", "f32", "--all-biases"), ("dots1", "bf16", "--all-biases"),
                                  ("dots1", "f32", "--layer-types"), ("dots1", "bf16", "--layer-types"),
                                  ("phimoe", "f32", "--no-rope-scaling"), ("phimoe", "bf16", "--no-rope-scaling"),
                                  ("deepseek_v3", "f32", "--no-q-lora"), ("deepseek_v3", "bf16", "--no-q-lora"),
                                  ("deepseek_v3", "f32", "--no-interleave"), ("deepseek_v3", "bf16", "--no-interleave"),
                                  ("deepseek_v3", "f32", "--yarn"), ("deepseek_v3", "bf16", "--yarn"),
                                  ("deepseek_v3", "f32", "--attention-bias"),
                                  ("deepseek_v3", "bf16", "--attention-bias"),
                                  ("deepseek_v3", "f32", "--no-q-lora --no-interleave --yarn --attention-bias"),
                                  ("cohere2", "f32", "--layer-types"), ("cohere2", "bf16", "--layer-types"),
                                  ("cohere2", "f32", "--attention-bias"), ("cohere2", "bf16", "--attention-bias"),
                                  ("cohere2", "f32", "--untied"), ("cohere2", "bf16", "--untied"),
                                  ("cohere2", "f32", "--layer-types --attention-bias --untied"),
                                  ("arcee", "f32", "--yarn"), ("arcee", "bf16", "--yarn"),
                                  ("arcee", "f32", "--mlp-bias"), ("arcee", "bf16", "--mlp-bias"),
                                  ("arcee", "f32", "--relu"), ("arcee", "bf16", "--relu"),
                                  ("arcee", "f32", "--yarn --mlp-bias --relu"),
                                  ("nemotron", "f32", "--tied"), ("nemotron", "bf16", "--tied"),
                                  ("nemotron", "f32", "--attention-bias"), ("nemotron", "bf16", "--attention-bias"),
                                  ("nemotron", "f32", "--mlp-bias"), ("nemotron", "bf16", "--mlp-bias"),
                                  ("nemotron", "f32", "--tied --attention-bias --mlp-bias")):
            d = gen(root, arch, dtype, extra=tuple(flag.split()))
            check_importer(args.xfc, "%s %s" % (arch, flag), d)
            logits, _ = check_decode("%s %s %s" % (arch, flag, dtype), d, args.max_new,
                                     shared_gate=flag != "--no-shared-gate")
            if dtype == "f32":
                check_features_matter("%s %s" % (arch, flag), d, logits)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    if failures:
        print("FAIL: %d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("PASS: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
