#!/usr/bin/python3
"""Write a tiny random Hugging Face checkpoint (config.json + safetensors) for end-to-end tests.

    /usr/bin/python3 test/models/gen_tiny_model.py
        --arch {llama,mistral,gptoss,gemma,gemma2,qwen3,qwen2,mixtral,phi3,qwen3moe,gemma3,gemma3mm,smollm3,mistral3mm,
                granite,olmo2,qwen2moe,granitemoe,stablelm,starcoder2,phi,gptneox,glm,glm4,cohere,gpt2,olmoe,ernie4_5,
                exaone4,seed_oss,olmo3,helium,glm4_moe,ernie4_5_moe,dots1,phimoe,deepseek_v3,cohere2,arcee,
                nemotron}
        --out DIR
        [--seed N] [--dtype f32|bf16|f16] [--shards K] [--mxfp4] [--norm-topk-prob] [--mm-layout old|new]
        [--parallel-residual] [--sequential-residual] [--neox-buffers] [--base-model-names] [--untied] [--qk-norm]
        [--no-bias] [--layer-types] [--no-window] [--all-biases] [--mixed-layers] [--single-group] [--interval]
        [--no-shared] [--no-rope-scaling] [--moh SHARED,TOPK] [--affine] [--no-q-lora] [--no-interleave] [--yarn]
        [--attention-bias] [--mlp-bias] [--relu] [--relu2] [--tied]

DIR/config.json is a Hugging Face config of the architecture (LlamaForCausalLM, MistralForCausalLM,
GptOssForCausalLM, GemmaForCausalLM, Gemma2ForCausalLM, Qwen3ForCausalLM, Qwen2ForCausalLM, MixtralForCausalLM,
Phi3ForCausalLM, Qwen3MoeForCausalLM, Gemma3ForCausalLM, SmolLM3ForCausalLM, GraniteForCausalLM, Olmo2ForCausalLM, Qwen2MoeForCausalLM, GraniteMoeForCausalLM, StableLmForCausalLM,
Starcoder2ForCausalLM, PhiForCausalLM, GPTNeoXForCausalLM, GlmForCausalLM, Glm4ForCausalLM, CohereForCausalLM, GPT2LMHeadModel,
OlmoeForCausalLM, Ernie4_5ForCausalLM, Exaone4ForCausalLM, SeedOssForCausalLM, Olmo3ForCausalLM, HeliumForCausalLM,
Glm4MoeForCausalLM, Ernie4_5_MoeForCausalLM, Dots1ForCausalLM, PhimoeForCausalLM, DeepseekV3ForCausalLM,
Cohere2ForCausalLM, ArceeForCausalLM, NemotronForCausalLM; gemma3mm:
Gemma3ForConditionalGeneration; mistral3mm: Mistral3ForConditionalGeneration) with tiny sizes; the weights use the Hugging Face tensor names and layouts. With
--shards 1 (the default) they go to DIR/model.safetensors; with --shards K > 1 to
DIR/model-0000i-of-0000K.safetensors plus DIR/model.safetensors.index.json.

The weights are drawn in float32 from numpy's default_rng(seed) in a fixed order, so the same seed gives
the same values whatever --dtype and --shards are; --dtype then rounds them to nearest, ties to even
(bf16: the top 16 bits of the float32; f16: numpy's float16 conversion). The tensors FLOAT32_TENSORS names for the
arch (glm4_moe's, dots1's and deepseek_v3's mlp.gate.e_score_correction_bias; ernie4_5_moe's mlp.gate.weight and
mlp.moe_statics.e_score_correction_bias: those the published bf16 checkpoints keep in float32 and transformers keeps
in float32, _keep_in_fp32_modules_strict) are stored F32 whatever --dtype.

With --mxfp4 (gptoss only) the experts' gate_up_proj and down_proj are stored as the published gpt-oss
checkpoints store them: MXFP4 `_blocks` (U8 [E, out, in / 32, 16], two e2m1 values per byte, the low
nibble first) and `_scales` (U8 [E, out, in / 32], e8m0 exponents with bias 127), quantized from the
drawn values (each group of 32 scaled so that its largest magnitude fits e2m1's 6, then rounded to the
nearest e2m1 value), and config.json gets `quantization_config` {"quant_method": "mxfp4"}. The model's
weights are then the dequantized values.

gemma3mm (mistral3mm) is the gemma3 (mistral) model packaged as Gemma 3's (Mistral 3's) multimodal
checkpoints are: config.json holds its settings in text_config beside a vision_config, and its tensors are language_model.model.* and
language_model.lm_head.weight (--mm-layout old, as Google published them) or model.language_model.* and
lm_head.weight (--mm-layout new, as newer transformers save them), beside a few vision tower tensors.

With --qk-norm (cohere, stablelm) q and k get a LayerNorm without bias over head_dim with each head's own
gains, as Command R+ (use_qk_norm) and StableLM 2 12B (qk_layernorm) have: self_attn.q_norm.weight [H, D]
and k_norm.weight [KV, D] (CohereLayerNorm), or self_attn.q_layernorm.norms.h.weight [D] for h < H and
k_layernorm.norms.h.weight for h < KV (StableLmLayerNormPerHead). With --qk-norm (glm4_moe) use_qk_norm true
and q and k get an RMSNorm over head_dim with one [head_dim] gain shared by every head, before RoPE, as GLM-4.5
(355B) has: self_attn.q_norm.weight [D], self_attn.k_norm.weight [D] (Glm4MoeRMSNorm(head_dim)). Their gains come
from a generator of their own (seed + 3000), so that every other weight is the same as without the flag.

--moh SHARED,TOPK and --affine (llama) add the weights of two attention variants that no Hugging Face class has (xf's
xf-mixture-of-heads and xf-affine-scale read them; reference_forward.py's --moh and --affine use them); config.json
is unchanged, and each flag draws from a generator of its own (seed + 4000, seed + 5000), so that every other tensor
is the same as without the flags. --moh: per layer self_attn.moh_router.w_routed [H - SHARED, hidden],
moh_router.w_shared [SHARED, hidden] (with SHARED 0 an empty [0, hidden] tensor: zero bytes, which the writer and
the reader handle) and moh_router.w_head [2, hidden] (no .weight suffix), H = num_attention_heads,
0 <= SHARED < H, 1 <= TOPK <= H - SHARED. --affine: per layer self_attn.alpha_proj.weight [H, hidden] and
self_attn.alpha_ma [H] (uniform in [0.2, 0.9]).

glm4_moe (Glm4MoeForCausalLM: GLM-4.5, GLM-4.5-Air, GLM-4.6) has 3 layers: layer 0 a dense MLP (first_k_dense_replace
1), layers 1-2 a sigmoid-routed mixture (8 experts in 4 groups, top 2 groups, top 3 experts, a float32
e_score_correction_bias in the choice only, routed_scaling_factor 2.5) plus 2 shared experts. The checkpoint also
holds one multi-token-prediction layer after the last (num_nextn_predict_layers 1: model.layers.3.*, a decoder
layer of the MoE form plus eh_proj, enorm, hnorm and shared_head.norm), as the published ones do; the class
ignores it. With --single-group the published routing form: n_group 1, topk_group 1, routed_scaling_factor 1.0,
n_shared_experts 1.

ernie4_5_moe (Ernie4_5_MoeForCausalLM: ERNIE-4.5-21B-A3B, ERNIE-4.5-300B-A47B) has 5 layers: layers 1-3 an
Ernie4_5_MoeSparseMoeBlock (moe_layer_start_index 1, moe_layer_end_index 3, moe_layer_interval 1), layers 0 and 4 a
dense MLP of intermediate_size 96. The block: a softmax router over 8 experts (mlp.gate.weight, F32), the top 3 by the
probabilities plus the F32 mlp.moe_statics.e_score_correction_bias [1, 8], weighted by the probabilities alone divided
by max(their sum, moe_norm_min 1e-12), plus 2 shared experts (mlp.shared_experts.*, intermediate 2 * 32). The checkpoint
also holds a multi-token-prediction layer (model.mtp_block.0.*, model.mtp_emb_norm.0.weight,
model.mtp_hidden_norm.0.weight, model.mtp_linear_proj.0.weight [hidden, 2 * hidden]), as the published ones do; the
class ignores every tensor whose name contains "mtp". With --interval moe_layer_interval 2 and moe_layer_end_index -1
(num_hidden_layers - 1): layers 1 and 3 are the mixtures, 0, 2 and 4 dense. With --no-shared moe_num_shared_experts 0
and no mlp.shared_experts tensors; the other tensors are those the same seed gives with them.

dots1 (Dots1ForCausalLM: dots.llm1) is Qwen 3's attention and blocks with DeepSeek-V3's mixture, routed as glm4_moe's.
4 layers: layer 0 a dense MLP (first_k_dense_replace 1), layers 1-3 the sigmoid-routed mixture of glm4_moe (8 experts in
4 groups, top 2 groups, top 3 experts, a float32 e_score_correction_bias in the choice only, routed_scaling_factor 2.5)
plus 2 shared experts; per-head q/k RMSNorms (self_attn.q_norm / k_norm.weight [head_dim]) before RoPE over the whole
head_dim 24 (heads * head_dim = 96, not hidden). No multi-token-prediction layer: the class loads every tensor
(_keys_to_ignore_on_load_unexpected None). attention_bias false; with --all-biases true: q, k, v and o_proj all get
biases (the other tensors are those the same seed gives without them). sliding_window null and max_window_layers 4: no
layer slides; with --layer-types sliding_window 16 and layer_types (full, sliding, full, sliding), the weights the
same.

phimoe (PhimoeForCausalLM: Phi-3.5-MoE) is Mixtral's blocks with nn.LayerNorms (weight and bias, eps rms_norm_eps) and
biases on q, k, v, o_proj (attention_bias) and the lm_head (lm_head_bias). 3 layers, each a mixture of 6 experts
(block_sparse_moe.experts.E.w1 / w3 / w2, intermediate_size 48) routed by SparseMixer (top 2, router_jitter_noise
0.01: the experts whose logits lie more than 2 * 0.01 below the best, relative to max(|logit|, best), are left out of
each choice's softmax). The router's rows share one drawn row plus a small one of their own, so that the logits of a
token sit close together relative to their size for some tokens (the mask keeps more than the best) and apart for
others (it keeps the best alone). RoPE longrope over the whole head (original_max_position_embeddings 16,
max_position_embeddings 64: long_factor past 16 tokens, short_factor up to them) with cos and sin times
short_mscale / long_mscale 1.243 (PhimoeRotaryEmbedding's). With --no-rope-scaling rope_scaling null (plain RoPE,
cos and sin unscaled); the weights the same.

deepseek_v3 (DeepseekV3ForCausalLM: DeepSeek-V3 / R1) has multi-head latent attention (4 heads):
q = q_b_proj(RMSNorm(q_a_proj x)) through q_lora_rank 32 (--no-q-lora: q_lora_rank null and one q_proj), per head
qk_nope_head_dim 16 dims without RoPE and qk_rope_head_dim 8 with it; kv_a_proj_with_mqa x gives a kv_lora_rank 16
latent (RMSNorm'd by kv_a_layernorm, then kv_b_proj into each head's 16 key and v_head_dim 16 value dims) and one
8-dim RoPE key shared by every head. rope_interleave true: the RoPE dims are de-interleaved before rotate-half
(--no-interleave: false). 3 layers: layer 0 a dense MLP (first_k_dense_replace 1), layers 1-2 the sigmoid-routed
mixture of glm4_moe (8 experts in 2 groups, top 1 group, top 2 experts, routed_scaling_factor 2.5) plus one shared
expert; one multi-token-prediction layer after the last (model.layers.3.*, as glm4_moe's), which the class ignores.
rope_scaling null; --yarn: DeepSeek-V3's yarn form (factor 4 over original_max_position_embeddings 128, mscale 1.0,
mscale_all_dim 0.8: cos and sin times mscale(1.0) / mscale(0.8), the scores times mscale(0.8)^2). attention_bias
false; --attention-bias: true, with q_a_proj's (without --no-q-lora), kv_a_proj_with_mqa's and o_proj's biases. Each
flag leaves the other tensors as the same seed gives without it.

cohere2 (Cohere2ForCausalLM: Command R7B, Command A) is cohere's parallel block (one LayerNorm without bias feeding
attention and a SwiGLU MLP side by side, the logits times logit_scale 0.25, tied embeddings) on 4 layers with
sliding_window 8 and sliding_window_pattern 4 and no layer_types: layers 0-2 slide and rotate (RoPE in cohere's
adjacent pairs, rope_theta 5e4), layer 3 attends to everything without any positional encoding (NoPE). No q/k norms.
config.json also carries the fields the published Command R7B config has and Cohere2Config ignores
(cache_implementation, layer_switch, order_of_interleaved_layers, position_embedding_type, rotary_pct,
use_embedding_sharing, use_gated_activation, head_dim = hidden / heads). With --layer-types it lists layer_types
(full, sliding, sliding, full) beside sliding_window_pattern 4, which the class then ignores; with --attention-bias
attention_bias true and q, k, v and o_proj biases; with --untied tie_word_embeddings (and use_embedding_sharing) false
and an lm_head.weight, drawn last. Each flag leaves the other tensors as the same seed gives without it.

arcee (ArceeForCausalLM: AFM-4.5B) is Llama's blocks and attention with an MLP without a gate: down_proj(act(up_proj
x)) (ArceeMLP, NemotronMLP's), act relu2 = relu(x)^2 (ArceeConfig's default hidden_act, AFM-4.5B's): per layer
mlp.up_proj.weight [intermediate, hidden] and mlp.down_proj.weight [hidden, intermediate], no gate_proj. up_proj is
drawn with std 0.06 (pre-activations of std ~0.5), so that the squares leave the MLP's output about as large as
Llama's SwiGLU's and the logit margins like the other archs'. rope_scaling null; --yarn: AFM-4.5B's form (rope_type
yarn, factor 4 over original_max_position_embeddings 128, beta_fast 32, beta_slow 1, mscale 1.0 without
mscale_all_dim: cos and sin times 0.1 ln 4 + 1). --mlp-bias: mlp_bias true, with up_proj's and down_proj's biases.
--relu: hidden_act "relu" (the class takes any ACT2FN name). Each flag leaves the other tensors as the same seed gives
without it. For llama, --relu and --relu2 set hidden_act "relu" or "relu2" under its gate, act(gate_proj x) *
up_proj x (LlamaMLP takes any ACT2FN name; ReLU-gated Llamas exist), the weights the same.

nemotron (NemotronForCausalLM: Nemotron-4, Minitron, Nemotron-Mini) is Llama's pre-norm blocks with every norm a
NemotronLayerNorm1P, F.layer_norm(x, weight + 1, bias, norm_eps): per layer input_layernorm.{weight,bias} and
post_attention_layernorm.{weight,bias}, and model.norm.{weight,bias}, the weights stored as the gains - 1 (drawn
around 0, std 0.1) and the biases std 0.1; norm_eps 1e-5 (NemotronConfig's name, not rms_norm_eps). Attention with GQA
(4 heads, 2 kv heads) and head_dim 24 where hidden / heads is 16 (as Minitron-8B's 128 with 4096 / 48), RoPE
rotate-half on the first int(24 * partial_rotary_factor 0.5) = 12 dims of each head (NemotronRotaryEmbedding's rope
type is always "default": rope_scaling null); arcee's MLP without a gate, down_proj(relu2(up_proj x)) (NemotronMLP),
up_proj std 0.06 as there. Embeddings std 0.25 (at 1 greedy decoding falls into one-token loops). Untied
(NemotronConfig's default), lm_head.weight drawn last; bos_token_id 2, eos_token_id 3. --tied: tie_word_embeddings
true and no lm_head.weight (its greedy decodes mostly repeat one token).
--attention-bias: attention_bias true, with q/k/v/o_proj's biases. --mlp-bias: mlp_bias true, with up_proj's and
down_proj's biases. Each flag leaves the other tensors as the same seed gives without it.

With --mixed-layers (qwen3moe, qwen2moe) some layers have a dense MLP, as Qwen*MoeDecoderLayer builds one where
(layer in mlp_only_layers) or (layer + 1) % decoder_sparse_step != 0: 4 layers, decoder_sparse_step 2 and
mlp_only_layers [3] make layer 1 the only mixture, layers 0 and 2 dense by the step and layer 3 dense by the list;
the dense MLPs are mlp.{gate,up,down}_proj of intermediate_size 96 (not moe_intermediate_size 32).

With --no-bias (ernie4_5) config.json says use_bias false and the checkpoint has no bias tensors (as the
published ERNIE 4.5 dense models); the other tensors are those the same seed gives with the biases.

exaone4 by default lists no layer_types: Exaone4Config derives them from sliding_window_pattern 4 (layers 0-2
slide, layer 3 is full and, as a window is set, has no RoPE). With --layer-types config.json lists them
(sliding, full, sliding, full) beside "sliding_window_pattern": "LLLG", which the class then ignores (as in
the published EXAONE-4.0-32B config); with --no-window it says "sliding_window": null (every layer full and
rotated: global attention everywhere, as the 1.2B) and lists four full_attention layer_types, since
Exaone4Config cannot derive them then (its pattern becomes 0 and (i + 1) % 0 raises). The weights are the
same for the three forms.

olmo3 by default lists no layer_types: Olmo3Config makes layer i slide unless (i + 1) % 4 == 0 (layers 0-2
slide, layer 3 is full; every layer rotates). With --layer-types config.json lists (full, sliding, full, sliding)
instead; the weights are the same.

seed_oss has biases on q, k and v only (attention_bias true, attention_out_bias and mlp_bias false), as the
published Seed-OSS-36B. With --all-biases config.json says attention_out_bias and mlp_bias true and the checkpoint
has o_proj's and the MLP's biases too; the other tensors are those the same seed gives without them. (dots1's
--all-biases: above.)

NumPy only: the safetensors format is written by hand (see write_safetensors).
"""
import argparse
import json
import os
import sys

import numpy as np

TORCH_DTYPE = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}
ST_DTYPE = {"f32": "F32", "bf16": "BF16", "f16": "F16"}
ARCHS = ["llama", "mistral", "gptoss", "gemma", "gemma2", "qwen3", "qwen2", "mixtral", "phi3", "qwen3moe", "gemma3",
         "gemma3mm", "smollm3", "mistral3mm", "granite", "olmo2", "qwen2moe", "granitemoe", "stablelm",
         "starcoder2", "phi", "gptneox", "glm", "glm4", "cohere", "gpt2", "olmoe", "ernie4_5", "exaone4", "seed_oss",
         "olmo3", "helium", "glm4_moe", "ernie4_5_moe", "dots1", "phimoe", "deepseek_v3", "cohere2", "arcee",
         "nemotron"]
# Stored F32 whatever --dtype (suffixes of the tensor names), per arch: the modules transformers keeps in float32
# (_keep_in_fp32_modules_strict), as the published bf16 checkpoints store them. ERNIE 4.5 MoE's "gate" and
# "moe_statics": the router mlp.gate.weight (not the experts' gate_proj) and the correction bias. DeepSeek-V3's:
# DeepseekV3PreTrainedModel's, which dots.llm1's Dots1PreTrainedModel is too.
FLOAT32_TENSORS = {"glm4_moe": (".e_score_correction_bias",),
                   "ernie4_5_moe": (".mlp.gate.weight", ".mlp.moe_statics.e_score_correction_bias"),
                   "dots1": (".e_score_correction_bias",),
                   "deepseek_v3": (".e_score_correction_bias",)}


# --------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------
# Multimodal packagings: the text model they wrap, their class, model_type and outer fields.
MULTIMODAL = {
    "gemma3mm": ("gemma3", "Gemma3ForConditionalGeneration", "gemma3", {
        "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 16, "image_size": 28,
                          "patch_size": 14, "num_hidden_layers": 1, "num_attention_heads": 2,
                          "intermediate_size": 32, "vision_use_head": False},
        "mm_tokens_per_image": 4, "boi_token_index": 250, "eoi_token_index": 251, "image_token_index": 252,
        "eos_token_id": [2, 106]}),
    "mistral3mm": ("mistral", "Mistral3ForConditionalGeneration", "mistral3", {
        "vision_config": {"model_type": "pixtral", "hidden_size": 16, "image_size": 28, "patch_size": 14,
                          "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32},
        "image_token_index": 10, "multimodal_projector_bias": False, "projector_hidden_act": "gelu",
        "spatial_merge_size": 2, "vision_feature_layer": -1, "eos_token_id": 2}),
}


def make_config(arch, dtype):
    if arch in MULTIMODAL:
        inner, cls, model_type, outer = MULTIMODAL[arch]
        text = make_config(inner, dtype)
        return {
            "architectures": [cls],
            "model_type": model_type,
            "torch_dtype": text.pop("torch_dtype"),
            "text_config": {k: v for k, v in text.items() if k not in ("architectures", "bos_token_id",
                                                                        "eos_token_id", "pad_token_id")},
            **outer,
            "bos_token_id": 1,
            "initializer_range": 0.02,
        }
    common = {
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "hidden_act": "silu",
        "torch_dtype": TORCH_DTYPE[dtype],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "use_cache": True,
    }
    if arch == "llama":
        cfg = {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            **common,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
            "attention_bias": False,
            "mlp_bias": False,
        }
    elif arch == "mistral":
        # MistralConfig has no attention_bias / mlp_bias fields (Mistral has no biases).
        cfg = {
            "architectures": ["MistralForCausalLM"],
            "model_type": "mistral",
            **common,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "sliding_window": 16,
        }
    elif arch == "gptoss":
        cfg = {
            "architectures": ["GptOssForCausalLM"],
            "model_type": "gpt_oss",
            **common,
            "intermediate_size": 32,
            "num_local_experts": 4,
            "num_experts_per_tok": 2,
            "swiglu_limit": 7.0,
            "sliding_window": 8,
            "layer_types": ["sliding_attention", "full_attention"],
            "rope_theta": 150000.0,
            "rope_scaling": {
                "rope_type": "yarn",
                "factor": 4.0,
                "beta_fast": 32.0,
                "beta_slow": 1.0,
                "original_max_position_embeddings": 64,
                "truncate": False,
            },
            # factor * original_max_position_embeddings, as in the real gpt-oss configs (32 * 4096 =
            # 131072): some transformers versions replace the yarn factor by max_position_embeddings /
            # original_max_position_embeddings, so the two must agree for the model to be unambiguous.
            "max_position_embeddings": 256,
            "attention_bias": True,
        }
    elif arch == "gemma":
        # Gemma (1): (1 + w) RMSNorm before attention and MLP only, embeddings times sqrt(hidden),
        # scores scaled by head_dim^-0.5, no soft caps, no sliding window. hidden_act says "gelu" as in
        # the published configs: the model reads hidden_activation, gelu_pytorch_tanh when absent.
        cfg = {
            "architectures": ["GemmaForCausalLM"],
            "model_type": "gemma",
            **common,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": False,
            "hidden_act": "gelu",
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "pad_token_id": 0,
        }
    elif arch == "gemma2":
        # Gemma 2: (1 + w) RMSNorm before and after attention and MLP, embeddings times sqrt(hidden),
        # gelu_pytorch_tanh, scores scaled by query_pre_attn_scalar^-0.5 and soft-capped, final logits
        # soft-capped, layers 0, 2, ... slide (the class default: no layer_types here, as in the real
        # gemma-2 configs). The caps are small so that tanh is far from linear on these tiny models (the
        # real 50 / 30 would barely bend their logits). Untied (the class default and every Gemma 2
        # checkpoint tie them): with random weights a tied head mostly predicts the input token again.
        cfg = {
            "architectures": ["Gemma2ForCausalLM"],
            "model_type": "gemma2",
            **common,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": False,
            "hidden_act": "gelu_pytorch_tanh",
            "hidden_activation": "gelu_pytorch_tanh",
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "attention_bias": False,
            "query_pre_attn_scalar": 24,
            "attn_logit_softcapping": 5.0,
            "final_logit_softcapping": 3.0,
            "sliding_window": 8,
            "cache_implementation": "hybrid",
            "pad_token_id": 0,
        }
    elif arch == "qwen3":
        # Qwen 3: RMSNorm over head_dim on q and k (q_norm, k_norm) before RoPE; head_dim 32 with
        # hidden 64 and 4 heads (q_proj [128, 64]), as Qwen3-0.6B has head_dim 128 with 1024 / 16.
        cfg = {
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            **common,
            "head_dim": 32,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 1000000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "use_sliding_window": False,
            "sliding_window": None,
            "max_window_layers": 2,
        }
    elif arch == "qwen2":
        # Qwen 2: biases on q, k and v (none on o); Qwen2Config has no head_dim (hidden / heads) and no
        # attention_bias. use_sliding_window with max_window_layers 1: layer 0 full, layer 1 slides over
        # 8 keys (transformers' layer_types default: sliding iff i >= max_window_layers).
        cfg = {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            **common,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 1000000.0,
            "use_sliding_window": True,
            "sliding_window": 8,
            "max_window_layers": 1,
        }
        del cfg["head_dim"]
    elif arch == "mixtral":
        # Mixtral: block_sparse_moe with 4 experts (w1 gate, w3 up, w2 down), top 2, the softmax of the
        # router logits renormalized over the chosen two; no sliding window (as Mixtral-8x7B).
        cfg = {
            "architectures": ["MixtralForCausalLM"],
            "model_type": "mixtral",
            **common,
            "intermediate_size": 64,
            "num_local_experts": 4,
            "num_experts_per_tok": 2,
            "max_position_embeddings": 512,
            "rope_theta": 1000000.0,
            "sliding_window": None,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.02,
        }
    elif arch == "gemma3":
        # Gemma 3: Gemma 2's (1 + w) sandwich norms, scaled embeddings, query_pre_attn_scalar and GeGLU, no
        # soft caps (the class defaults, null), q_norm / k_norm over head_dim ((1 + w) too); sliding window
        # pattern 2: layer 0 slides (8 keys) and layer 1 is full (the real models: 5 sliding, then 1 full);
        # the sliding layers rotate with rope_local_base_freq 1e4 and no scaling, the full ones with
        # rope_theta 1e6 and linear scaling 8 (as Gemma 3 4B and up). Untied embeddings, as gemma2 here.
        cfg = {
            "architectures": ["Gemma3ForCausalLM"],
            "model_type": "gemma3_text",
            **common,
            "head_dim": 32,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "hidden_activation": "gelu_pytorch_tanh",
            "query_pre_attn_scalar": 24,
            "attn_logit_softcapping": None,
            "final_logit_softcapping": None,
            "sliding_window": 8,
            "sliding_window_pattern": 2,
            "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0,
            "rope_scaling": {"rope_type": "linear", "factor": 8.0},
            "max_position_embeddings": 512,
            "attention_bias": False,
            "cache_implementation": "hybrid",
            "pad_token_id": 0,
        }
        del cfg["hidden_act"]
    elif arch == "granite":
        # Granite: Llama with multipliers on the embeddings (12, as Granite 3's 8B), on each block's
        # output before its residual add, as the score scale (in place of head_dim^-0.5 = 0.25), and a
        # divisor of the logits; no head_dim key (hidden / heads).
        cfg = {
            "architectures": ["GraniteForCausalLM"],
            "model_type": "granite",
            **{k: v for k, v in common.items() if k != "head_dim"},
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "mlp_bias": False,
            "embedding_multiplier": 12.0,
            "attention_multiplier": 0.125,
            "residual_multiplier": 0.22,
            "logits_scaling": 4.0,
        }
    elif arch == "granitemoe":
        # Granite MoE: granite's multipliers, and in every layer 4 experts of intermediate_size 32, top 2
        # (softmax over the two logits), their [gate; up] stacked in block_sparse_moe.input_linear
        # [E, 2I, hidden] and down in output_linear [E, hidden, I]; the router block_sparse_moe.router.layer.
        cfg = {
            "architectures": ["GraniteMoeForCausalLM"],
            "model_type": "granitemoe",
            **{k: v for k, v in common.items() if k != "head_dim"},
            "intermediate_size": 32,
            "num_local_experts": 4,
            "num_experts_per_tok": 2,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "embedding_multiplier": 12.0,
            "attention_multiplier": 0.125,
            "residual_multiplier": 0.22,
            "logits_scaling": 4.0,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
        }
    elif arch == "stablelm":
        # StableLM (2): nn.LayerNorm (weight and bias, layer_norm_eps) before attention and MLP and at the
        # end, RoPE on the first quarter of each head (partial_rotary_factor 0.25: 4 of 16 dims), q/k/v
        # biases (use_qkv_bias, as StableLM 2 1.6B), no head_dim key.
        cfg = {
            "architectures": ["StableLmForCausalLM"],
            "model_type": "stablelm",
            **{k: v for k, v in common.items() if k not in ("head_dim", "rms_norm_eps")},
            "layer_norm_eps": 1e-5,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "partial_rotary_factor": 0.25,
            "use_qkv_bias": True,
            "qk_layernorm": False,
            "use_parallel_residual": False,
            "hidden_dropout": 0.0,
            "attention_dropout": 0.0,
        }
    elif arch == "phi":
        # Phi (2): one LayerNorm (layer_norm_eps) whose output feeds attention and MLP side by side (parallel
        # residual), biases on q, k, v, self_attn.dense, mlp.fc1 / fc2 (no gate, gelu_new) and the lm_head,
        # RoPE on 6 of each head's 16 dims (partial_rotary_factor 0.375; Phi-2's 0.4 of 80 is 32),
        # model.final_layernorm.
        cfg = {
            "architectures": ["PhiForCausalLM"],
            "model_type": "phi",
            **{k: v for k, v in common.items() if k not in ("head_dim", "rms_norm_eps")},
            "hidden_act": "gelu_new",
            "layer_norm_eps": 1e-5,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "partial_rotary_factor": 0.375,
            "qk_layernorm": False,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attention_dropout": 0.0,
        }
    elif arch == "gptneox":
        # GPT-NeoX (Pythia): attention and an MLP without a gate (gelu, exact) side by side, each after its
        # own nn.LayerNorm (use_parallel_residual), q, k and v of each head in one query_key_value, biases on
        # every projection but embed_out, RoPE on 4 of each head's 16 dims (rotary_pct 0.25), no
        # num_key_value_heads and no head_dim keys.
        cfg = {
            "architectures": ["GPTNeoXForCausalLM"],
            "model_type": "gpt_neox",
            **{k: v for k, v in common.items()
               if k not in ("head_dim", "rms_norm_eps", "num_key_value_heads", "hidden_act")},
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-5,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rotary_emb_base": 10000,
            "rotary_pct": 0.25,
            "use_parallel_residual": True,
            "classifier_dropout": 0.1,
            "hidden_dropout": 0.0,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
        }
    elif arch in ("glm", "glm4"):
        # GLM (4): Llama's blocks with q/k/v biases (attention_bias; none on o_proj), one mlp.gate_up_proj,
        # RoPE on the first half of each head (partial_rotary_factor 0.5: 8 of 16 dims) in adjacent pairs
        # (2i, 2i + 1). GLM-4 (0414): norms after attention and MLP too (post_self_attn_layernorm,
        # post_mlp_layernorm).
        cfg = {
            "architectures": ["GlmForCausalLM" if arch == "glm" else "Glm4ForCausalLM"],
            "model_type": arch,
            **common,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "partial_rotary_factor": 0.5,
            "rope_theta": 10000.0,
            "attention_bias": True,
            "attention_dropout": 0.0,
            "pad_token_id": 0,
        }
    elif arch == "glm4_moe":
        # GLM-4.5 / GLM-4.5-Air / GLM-4.6 (Glm4MoeForCausalLM): Llama's pre-norm blocks (input_layernorm,
        # post_attention_layernorm), q/k/v biases (attention_bias; none on o_proj), RoPE rotate-half (not GLM's
        # adjacent pairs) on the first half of each head (partial_rotary_factor 0.5: 12 of 24 dims); head_dim 24 given,
        # so that heads * head_dim = 96 is not hidden (the published 128 with 96 heads and hidden 5120); use_qk_norm
        # false (GLM-4.5-Air; --qk-norm: true, as GLM-4.5). Layer 0 a dense MLP of intermediate_size 96
        # (first_k_dense_replace 1), layers 1-2 Glm4MoeMoE: the sigmoid of the router logits, plus the float32
        # e_score_correction_bias for the choice only; the experts of the top topk_group 2 of n_group 4 groups (each
        # scored by the sum of its 2 best) compete, the others score 0.0; the top 3 of 8 (moe_intermediate_size 32),
        # weighted by their sigmoids (without the bias) divided by their sum (norm_topk_prob) times
        # routed_scaling_factor 2.5; plus shared experts of moe_intermediate_size * n_shared_experts = 64. Groups and
        # two shared experts so that the group limit and the shared size are exercised; --single-group gives the
        # published routing form (n_group 1, topk_group 1: no group limit; one shared expert) with
        # routed_scaling_factor 1.0. 3 layers, so that there are two MoE layers; num_nextn_predict_layers 1: the
        # checkpoint holds one MTP layer more, model.layers.3.*, which the class ignores.
        cfg = {
            "architectures": ["Glm4MoeForCausalLM"],
            "model_type": "glm4_moe",
            **common,
            "num_hidden_layers": 3,
            "head_dim": 24,
            "partial_rotary_factor": 0.5,
            "intermediate_size": 96,
            "moe_intermediate_size": 32,
            "n_routed_experts": 8,
            "num_experts_per_tok": 3,
            "n_group": 4,
            "topk_group": 2,
            "routed_scaling_factor": 2.5,
            "norm_topk_prob": True,
            "n_shared_experts": 2,
            "first_k_dense_replace": 1,
            "num_nextn_predict_layers": 1,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": True,
            "use_qk_norm": False,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "pad_token_id": 0,
        }
    elif arch == "dots1":
        # dots.llm1 (Dots1ForCausalLM): Qwen3Attention (q/k/v/o with bias=attention_bias, all four; q_norm / k_norm an
        # RMSNorm over head_dim with one [head_dim] gain for every head, before RoPE; rotate-half RoPE over the whole
        # head) and DeepseekV3DecoderLayer's pre-norm blocks, whose mixture (DeepseekV3MoE, DeepseekV3TopkRouter) is
        # glm4_moe's: layer 0 a dense MLP of intermediate_size 96 (first_k_dense_replace 1), layers 1-3 the sigmoid
        # router with the float32 e_score_correction_bias in the choice only, top topk_group 2 of n_group 4 groups, top
        # 3 of 8 experts (moe_intermediate_size 32), weights normalized (norm_topk_prob) times routed_scaling_factor
        # 2.5, plus shared experts of 32 * n_shared_experts 2 = 64. head_dim 24 given (Dots1Config has no such field:
        # the attention's getattr(config, "head_dim", hidden / heads) reads it), so that heads * head_dim = 96 is not
        # hidden. attention_bias false (--all-biases: true). Layer types as Dots1Config: layer_types when given, else
        # layer i slides iff sliding_window is not null and i >= max_window_layers; sliding_window null and
        # max_window_layers 4 here: no layer slides (--layer-types: sliding_window 16, layers 1 and 3 slide). 4 layers,
        # so that there are three MoE layers and two of each type; no MTP layer (the class would not load one).
        cfg = {
            "architectures": ["Dots1ForCausalLM"],
            "model_type": "dots1",
            **common,
            "num_hidden_layers": 4,
            "head_dim": 24,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 96,
            "moe_intermediate_size": 32,
            "n_routed_experts": 8,
            "num_experts_per_tok": 3,
            "n_shared_experts": 2,
            "n_group": 4,
            "topk_group": 2,
            "routed_scaling_factor": 2.5,
            "norm_topk_prob": True,
            "first_k_dense_replace": 1,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "sliding_window": None,
            "max_window_layers": 4,
            "initializer_range": 0.02,
        }
    elif arch == "phimoe":
        # Phi-3.5-MoE (PhimoeForCausalLM): MixtralDecoderLayer with nn.LayerNorm(hidden, eps=rms_norm_eps) (weight and
        # bias) for input_layernorm, post_attention_layernorm and model.norm; LlamaAttention (bias=attention_bias on q,
        # k, v and o_proj, all four; rotate-half RoPE over the whole head, head_dim = hidden / heads: PhimoeConfig has
        # no head_dim); every layer a PhimoeSparseMoeBlock: router block_sparse_moe.gate (no bias), SparseMixer's top 2
        # with router_jitter_noise 0.01 as its eps (input_jitter_noise acts in training only), 6 Mixtral experts (w1
        # gate, w3 up, w2 down) of intermediate_size 48; nn.Linear lm_head with bias=lm_head_bias. RoPE: longrope's
        # factors (short_factor up to original_max_position_embeddings 16 tokens, long_factor past them; 8 = head_dim
        # / 2 each, made up) with cos and sin times short_mscale / long_mscale (the published 1.243 for both), not
        # longrope's attention factor. max_position_embeddings 64 = 4 x 16, as the published 131072 = 32 x 4096
        # (longrope's attention factor, which a toggle compares with, is sqrt(1 + ln 4 / ln 16)). sliding_window null
        # (LlamaAttention has none). 3 layers; untied.
        cfg = {
            "architectures": ["PhimoeForCausalLM"],
            "model_type": "phimoe",
            **{k: v for k, v in common.items() if k != "head_dim"},
            "num_hidden_layers": 3,
            "intermediate_size": 48,
            "num_local_experts": 6,
            "num_experts_per_tok": 2,
            "router_jitter_noise": 0.01,
            "input_jitter_noise": 0.0,
            "max_position_embeddings": 64,
            "rope_theta": 10000.0,
            "rope_scaling": {
                "type": "longrope",
                "short_factor": [1.0, 1.02, 1.05, 1.1, 1.16, 1.24, 1.35, 1.5],
                "long_factor": [1.3, 1.8, 2.6, 3.7, 5.0, 6.8, 9.0, 12.0],
                "short_mscale": 1.243,
                "long_mscale": 1.243,
                "original_max_position_embeddings": 16,
            },
            "sliding_window": None,
            "attention_bias": True,
            "lm_head_bias": True,
            "attention_dropout": 0.0,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
            "initializer_range": 0.02,
        }
    elif arch == "deepseek_v3":
        # DeepSeek-V3 / R1 (DeepseekV3ForCausalLM): DeepseekV3Attention (multi-head latent
        # attention: q through q_lora_rank 32 with q_a_layernorm, keys and values through one kv_lora_rank 16 latent
        # with kv_a_layernorm, each head's qk_nope_head_dim 16 query / key dims without RoPE, qk_rope_head_dim 8 with it
        # (one RoPE key for every head), v_head_dim 16, so that the ranks and head sizes differ from each other and the
        # query / key heads (24) from hidden / heads (16); scores times 24^-0.5; rope_interleave true, the class default
        # and the published models') in Llama's pre-norm blocks. Layer 0 a dense MLP of intermediate_size 128
        # (first_k_dense_replace 1), layers 1-2 DeepseekV3MoE (glm4_moe's routing: 8 experts in n_group 2 groups,
        # topk_group 1, top 2, routed_scaling_factor 2.5 as published, norm_topk_prob) plus one shared expert of
        # moe_intermediate_size 32. num_key_value_heads 4: the class needs the head count (its default is 128). No
        # head_dim key: DeepseekV3Config sets head_dim = qk_rope_head_dim (a head_dim in config.json would override it).
        # num_nextn_predict_layers 1: one MTP layer more, model.layers.3.*, as published (the class ignores it).
        # topk_method, scoring_func, moe_layer_freq and ep_size as the published config.json has them; DeepseekV3Config
        # does not read them.
        cfg = {
            "architectures": ["DeepseekV3ForCausalLM"],
            "model_type": "deepseek_v3",
            **{k: v for k, v in common.items() if k != "head_dim"},
            "num_hidden_layers": 3,
            "num_key_value_heads": 4,
            "rms_norm_eps": 1e-6,
            "q_lora_rank": 32,
            "kv_lora_rank": 16,
            "qk_nope_head_dim": 16,
            "qk_rope_head_dim": 8,
            "v_head_dim": 16,
            "rope_interleave": True,
            "intermediate_size": 128,
            "moe_intermediate_size": 32,
            "n_routed_experts": 8,
            "num_experts_per_tok": 2,
            "n_group": 2,
            "topk_group": 1,
            "n_shared_experts": 1,
            "routed_scaling_factor": 2.5,
            "norm_topk_prob": True,
            "first_k_dense_replace": 1,
            "num_nextn_predict_layers": 1,
            "topk_method": "noaux_tc",
            "scoring_func": "sigmoid",
            "moe_layer_freq": 1,
            "ep_size": 1,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
        }
    elif arch == "cohere":
        # Cohere (Command R): one LayerNorm without bias (layer_norm_eps) whose output feeds attention and MLP
        # side by side, RoPE over every head dim in adjacent pairs, embeddings tied (the class default: no
        # tie_word_embeddings key), the logits times logit_scale 0.25; no head_dim key.
        cfg = {
            "architectures": ["CohereForCausalLM"],
            "model_type": "cohere",
            **{k: v for k, v in common.items() if k not in ("head_dim", "rms_norm_eps", "tie_word_embeddings")},
            "layer_norm_eps": 1e-5,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "logit_scale": 0.25,
            "attention_bias": False,
            "use_qk_norm": False,
            "attention_dropout": 0.0,
            "pad_token_id": 0,
        }
    elif arch == "cohere2":
        # Cohere 2 (Command R7B, Command A): cohere's parallel block, LayerNorm without bias, interleaved RoPE and
        # logit_scale; no q/k norms. 4 layers, sliding_window 8 (small, so that prompts of 20 tokens and more cross it)
        # and sliding_window_pattern 4 without layer_types: Cohere2Config makes layers 0-2 slide and layer 3 full, and
        # Cohere2Attention rotates only on the sliding layers (the full one is NoPE), as Command R7B's 3:1. Tied
        # embeddings, as the class default and the published models. rope_theta 5e4 and the fields from
        # "cache_implementation" on as the published R7B config.json; Cohere2Config reads none of those (head_dim
        # it overwrites with hidden / heads, which it is here).
        cfg = {
            "architectures": ["Cohere2ForCausalLM"],
            "model_type": "cohere2",
            **{k: v for k, v in common.items() if k != "rms_norm_eps"},
            "num_hidden_layers": 4,
            "tie_word_embeddings": True,
            "layer_norm_eps": 1e-5,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 50000.0,
            "logit_scale": 0.25,
            "sliding_window": 8,
            "sliding_window_pattern": 4,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "cache_implementation": "hybrid",
            "layer_switch": 4,
            "order_of_interleaved_layers": "local_attn_first",
            "position_embedding_type": "rope_gptj",
            "rotary_pct": 1.0,
            "use_embedding_sharing": True,
            "use_gated_activation": True,
            "pad_token_id": 0,
        }
    elif arch == "gpt2":
        # GPT-2: its config's own names (n_embd, n_head, n_layer, n_positions, n_inner null for 4 * n_embd,
        # activation_function, layer_norm_epsilon), learned positions, tied embeddings (the class default).
        cfg = {
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": common["vocab_size"],
            "n_embd": common["hidden_size"],
            "n_head": common["num_attention_heads"],
            "n_layer": common["num_hidden_layers"],
            "n_positions": 128,
            "n_ctx": 128,
            "n_inner": None,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5,
            "attn_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "resid_pdrop": 0.0,
            "summary_type": "cls_index",
            "summary_use_proj": True,
            "summary_activation": None,
            "summary_proj_to_labels": True,
            "summary_first_dropout": 0.1,
            "scale_attn_weights": True,
            "torch_dtype": common["torch_dtype"],
            "bos_token_id": 1,
            "eos_token_id": 2,
        }
    elif arch == "starcoder2":
        # Starcoder 2: nn.LayerNorm (norm_epsilon) with biases, biases on every projection (use_bias), an MLP
        # without a gate (c_proj(gelu_pytorch_tanh(c_fc x))), a sliding window of 8 on every layer; no
        # head_dim key; tied embeddings are the class default (PretrainedConfig's), untied here.
        cfg = {
            "architectures": ["Starcoder2ForCausalLM"],
            "model_type": "starcoder2",
            **{k: v for k, v in common.items() if k not in ("head_dim", "rms_norm_eps")},
            "hidden_act": "gelu_pytorch_tanh",
            "norm_epsilon": 1e-5,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 100000.0,
            "rope_scaling": None,
            "sliding_window": 8,
            "use_bias": True,
            "residual_dropout": 0.0,
            "embedding_dropout": 0.0,
            "attention_dropout": 0.0,
        }
    elif arch == "olmo2":
        # OLMo 2: RMSNorm after attention and MLP (post_attention_layernorm, post_feedforward_layernorm;
        # none before), q_norm / k_norm over each token's whole q and k projections ([H*D], [KV*D]).
        cfg = {
            "architectures": ["Olmo2ForCausalLM"],
            "model_type": "olmo2",
            **common,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 500000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "pad_token_id": 0,
        }
    elif arch == "smollm3":
        # SmolLM3: Llama with NoPE layers: no_rope_layers 1 where a layer rotates, 0 where it has no
        # positional encoding (layer 1 here; the real model's every fourth, no_rope_layer_interval 4).
        cfg = {
            "architectures": ["SmolLM3ForCausalLM"],
            "model_type": "smollm3",
            **common,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 5000000.0,
            "rope_scaling": None,
            "no_rope_layers": [1, 0],
            "no_rope_layer_interval": 4,
            "use_sliding_window": False,
            "sliding_window": None,
            "layer_types": ["full_attention", "full_attention"],
            "attention_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": False,
            "pretraining_tp": 2,
        }
    elif arch == "qwen3moe":
        # Qwen3-MoE: Qwen 3 attention (head_dim 32 with hidden 64 and 4 heads, as Qwen3-30B-A3B's 128
        # with 2048 / 32); every layer a mixture of 8 experts of moe_intermediate_size 32, top 2, the
        # router's softmax over all 8 kept as is (norm_topk_prob false, the class default; --norm-topk-prob
        # sets it true, as the published models do). intermediate_size is that of dense MLP layers, which
        # decoder_sparse_step 1 and an empty mlp_only_layers leave none of.
        cfg = {
            "architectures": ["Qwen3MoeForCausalLM"],
            "model_type": "qwen3_moe",
            **common,
            "head_dim": 32,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "moe_intermediate_size": 32,
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "norm_topk_prob": False,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "max_position_embeddings": 512,
            "rope_theta": 1000000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "use_sliding_window": False,
            "sliding_window": None,
            "max_window_layers": 2,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
        }
    elif arch == "qwen2moe":
        # Qwen2-MoE: Qwen 2 attention (q, k, v biases; no head_dim key), every layer a mixture of 8 experts
        # of moe_intermediate_size 32, top 2 (norm_topk_prob false, the class default; --norm-topk-prob
        # sets it), plus a shared expert of shared_expert_intermediate_size 48 that every token takes,
        # its output times sigmoid(shared_expert_gate . x).
        cfg = {
            "architectures": ["Qwen2MoeForCausalLM"],
            "model_type": "qwen2_moe",
            **{k: v for k, v in common.items() if k != "head_dim"},
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "moe_intermediate_size": 32,
            "shared_expert_intermediate_size": 48,
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "norm_topk_prob": False,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "max_position_embeddings": 512,
            "rope_theta": 1000000.0,
            "use_sliding_window": False,
            "sliding_window": 4096,
            "max_window_layers": 2,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
        }
    elif arch == "olmoe":
        # OLMoE (OlmoeForCausalLM): Llama's pre-norm blocks with OLMo 2's q_norm / k_norm over each token's whole
        # q and k projections ([H*D] = [64], [KV*D] = [32]: 2 kv heads so that the two sizes differ); every layer
        # a mixture of 8 experts of intermediate_size 32 (OlmoeConfig has no moe_intermediate_size), top 2,
        # routed as Qwen3-MoE (norm_topk_prob false, the class default and the published models';
        # --norm-topk-prob sets it). No head_dim key (OlmoeConfig has none: hidden / heads); clip_qkv null, as
        # published (the importer refuses a clamp).
        cfg = {
            "architectures": ["OlmoeForCausalLM"],
            "model_type": "olmoe",
            **{k: v for k, v in common.items() if k != "head_dim"},
            "intermediate_size": 32,
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "norm_topk_prob": False,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "clip_qkv": None,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.01,
            "pad_token_id": 1,
        }
    elif arch == "ernie4_5":
        # ERNIE 4.5 dense (Ernie4_5ForCausalLM): Llama's pre-norm blocks, RoPE over the whole head in adjacent
        # pairs (2i, 2i + 1), as Cohere's; use_bias puts a bias on every projection (q, k, v, o, gate, up, down;
        # the published models have none: --no-bias). head_dim 32 with hidden 64 and 4 heads, so that it is not
        # hidden / heads (the published 0.3B: 128 = 1024 / 16, given explicitly as here). num_key_value_heads
        # given, as Ernie4_5Config's default (2) is not the head count; tied embeddings, the class default and
        # the published models'. The other keys as the published config.
        cfg = {
            "architectures": ["Ernie4_5ForCausalLM"],
            "model_type": "ernie4_5",
            **common,
            "head_dim": 32,
            "tie_word_embeddings": True,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 500000.0,
            "rope_scaling": None,
            "use_bias": True,
            "pad_token_id": 0,
        }
    elif arch == "ernie4_5_moe":
        # ERNIE 4.5 MoE (Ernie4_5_MoeForCausalLM: ERNIE-4.5-21B-A3B, ERNIE-4.5-300B-A47B): ERNIE 4.5's attention
        # (Llama's pre-norm blocks, RoPE over the whole head in adjacent pairs (2i, 2i + 1), head_dim 32 given where
        # hidden / heads is 16), use_bias false (as published: no bias anywhere), tied embeddings (the class default and
        # the published models'). 5 layers: layer l is an Ernie4_5_MoeSparseMoeBlock iff
        # (l + 1) % moe_layer_interval == 0 and moe_layer_start_index <= l <= moe_layer_end_index (1 and 3 here: layers
        # 1-3), else an Ernie4_5_MoeMLP of intermediate_size 96, so that there is a dense layer before the start and one
        # after the end. The block: p = softmax(x . mlp.gate.weight) over moe_num_experts 8 (float32), the top moe_k 3
        # of p + e_score_correction_bias, weighted by p (without the bias) / max(their sum, moe_norm_min); experts of
        # moe_intermediate_size 32, plus shared experts of 32 * moe_num_shared_experts 2 = 64. num_key_value_heads given
        # (the class default is 4).
        cfg = {
            "architectures": ["Ernie4_5_MoeForCausalLM"],
            "model_type": "ernie4_5_moe",
            **common,
            "num_hidden_layers": 5,
            "head_dim": 32,
            "tie_word_embeddings": True,
            "intermediate_size": 96,
            "max_position_embeddings": 512,
            "rope_theta": 500000.0,
            "rope_scaling": None,
            "use_bias": False,
            "moe_intermediate_size": 32,
            "moe_num_experts": 8,
            "moe_k": 3,
            "moe_num_shared_experts": 2,
            "moe_layer_start_index": 1,
            "moe_layer_end_index": 3,
            "moe_layer_interval": 1,
            "moe_norm_min": 1e-12,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
            "pad_token_id": 0,
        }
    elif arch == "helium":
        # Helium (HeliumForCausalLM, kyutai/helium-1-2b): Llama's pre-norm blocks and SwiGLU MLP, RoPE over the whole
        # head in adjacent pairs (2i, 2i + 1), as ERNIE 4.5's. HeliumAttention: bias=attention_bias on q, k and v but
        # never on o_proj; HeliumMLP: bias=mlp_bias on gate, up and down. Both true here (false in the published
        # model), so that the biases are checked. num_key_value_heads given (HeliumConfig's default is a literal 20);
        # head_dim 16 = hidden / heads, as o_proj is nn.Linear(hidden, hidden) and needs heads * head_dim = hidden.
        # rms_norm_eps 1e-8, rope_theta 1e5 and the other keys as HeliumConfig's defaults; untied.
        cfg = {
            "architectures": ["HeliumForCausalLM"],
            "model_type": "helium",
            **common,
            "rms_norm_eps": 1e-08,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 100000.0,
            "rope_scaling": None,
            "attention_bias": True,
            "mlp_bias": True,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "pad_token_id": 3,
        }
    elif arch == "exaone4":
        # EXAONE 4.0 (Exaone4ForCausalLM): OLMo 2's blocks (RMSNorm after attention and MLP, none before), Qwen 3's
        # q_norm / k_norm per head ([head_dim], before RoPE); sliding_window 4 (small, so that it cuts into an
        # 8-token prompt) with sliding_window_pattern 4 and no layer_types: layers 0-2 slide, layer 3 attends to
        # everything without RoPE (Exaone4Attention rotates only where sliding_window is null or the layer slides),
        # as the 32B's 3:1. head_dim 32 given, not hidden / heads = 16; num_key_value_heads given (the class
        # default is num_attention_heads). rope_theta 1e6 and llama3 scaling as the published 1.2B, but with
        # original_max_position_embeddings 64 (8192 there), as llama's here, so that the scaling reaches these
        # short sequences.
        cfg = {
            "architectures": ["Exaone4ForCausalLM"],
            "model_type": "exaone4",
            **common,
            "head_dim": 32,
            "num_hidden_layers": 4,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 1000000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 16.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
            "sliding_window": 4,
            "sliding_window_pattern": 4,
            "attention_dropout": 0.0,
            "pad_token_id": 0,
        }
    elif arch == "olmo3":
        # OLMo 3 (Olmo3ForCausalLM): OLMo 2's blocks (RMSNorm after attention and MLP, none before) and q_norm / k_norm
        # over each token's whole q and k projections ([H*D] = [64], [KV*D] = [32]: 2 kv heads, so that the two sizes
        # differ; Olmo3Config's default is the head count). 4 layers, sliding_window 4 (small, so that it cuts into an
        # 8-token prompt) and no layer_types: Olmo3Config makes layer i slide unless (i + 1) % 4 == 0 (layers 0-2 here,
        # layer 3 full), the 3:1 the published 7B lists. Every layer rotates with the same RoPE; rope_scaling null, as
        # the importer refuses a scaled RoPE beside sliding layers (the 7B's yarn: transformers releases disagree on
        # whether the sliding layers apply it). rope_theta 5e5, rms_norm_eps 1e-6 and the other keys as the published
        # config.
        cfg = {
            "architectures": ["Olmo3ForCausalLM"],
            "model_type": "olmo3",
            **common,
            "num_hidden_layers": 4,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 500000.0,
            "rope_scaling": None,
            "sliding_window": 4,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "pad_token_id": 1,
        }
    elif arch == "seed_oss":
        # Seed-OSS (SeedOssForCausalLM): Llama's pre-norm blocks and SwiGLU MLP; SeedOssAttention has bias=attention_bias
        # on q, k and v and bias=attention_out_bias on o_proj (true and false, as the published 36B; --all-biases sets
        # attention_out_bias and mlp_bias). head_dim 32 given, so that it is not hidden / heads = 16 (the 36B: 128,
        # with 5120 / 80 = 64); num_key_value_heads given, as SeedOssConfig's default (8) is not the head count.
        # rope_theta 1e7 and rope_scaling {"rope_type": "default"} as published; the dropouts only act in training.
        # The other keys as the published config.
        cfg = {
            "architectures": ["SeedOssForCausalLM"],
            "model_type": "seed_oss",
            **common,
            "head_dim": 32,
            "rms_norm_eps": 1e-6,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000000.0,
            "rope_scaling": {"rope_type": "default"},
            "attention_bias": True,
            "attention_out_bias": False,
            "mlp_bias": False,
            "attention_dropout": 0.1,
            "residual_dropout": 0.1,
            "pretraining_tp": 1,
            "initializer_range": 0.02,
            "bos_token_id": 0,
            "pad_token_id": 1,
        }
    elif arch == "arcee":
        # Arcee (AFM-4.5B): ArceeConfig is LlamaConfig with hidden_act "relu2" and rms_norm_eps 1e-5 by default;
        # ArceeMLP has no gate (up_proj and down_proj, bias=mlp_bias). rope_scaling null (--yarn: AFM-4.5B's yarn).
        cfg = {
            "architectures": ["ArceeForCausalLM"],
            "model_type": "arcee",
            **common,
            "hidden_act": "relu2",
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "mlp_bias": False,
        }
    elif arch == "nemotron":
        # Nemotron (Nemotron-4, Minitron, Nemotron-Mini): NemotronConfig reads norm_eps (not rms_norm_eps) and
        # partial_rotary_factor (default 0.5); hidden_act relu2, bos 2 and eos 3 as its defaults. head_dim 24 given where
        # hidden / heads is 16 (Minitron-8B: 128 with 4096 / 48); num_key_value_heads given, as NemotronConfig leaves it
        # null otherwise (and NemotronAttention cannot be built). rope_scaling null: NemotronRotaryEmbedding always
        # computes the default RoPE. Untied, NemotronConfig's default (--tied: tied); initializer_range its default.
        cfg = {
            "architectures": ["NemotronForCausalLM"],
            "model_type": "nemotron",
            **{k: v for k, v in common.items() if k != "rms_norm_eps"},
            "head_dim": 24,
            "norm_eps": 1e-5,
            "hidden_act": "relu2",
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "partial_rotary_factor": 0.5,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "mlp_bias": False,
            "initializer_range": 0.0134,
            "bos_token_id": 2,
            "eos_token_id": 3,
        }
    elif arch == "phi3":
        # Phi-3: fused qkv_proj ([q; k; v] rows) and gate_up_proj ([gate; up] rows); RoPE on the first
        # half of each head (partial_rotary_factor 0.5, as Phi-4-mini's 0.75); sliding window 16 on
        # every layer (the Phi-3 configs all set one). Phi3Config has no head_dim (hidden / heads).
        cfg = {
            "architectures": ["Phi3ForCausalLM"],
            "model_type": "phi3",
            **common,
            "intermediate_size": 128,
            "max_position_embeddings": 512,
            "original_max_position_embeddings": 512,
            "rope_theta": 10000.0,
            "rope_scaling": None,
            "partial_rotary_factor": 0.5,
            "sliding_window": 16,
            "attention_bias": False,
            "embd_pdrop": 0.0,
            "resid_pdrop": 0.0,
            "attention_dropout": 0.0,
            "pad_token_id": 0,
        }
        del cfg["head_dim"]
    else:
        raise ValueError(arch)
    return cfg


# --------------------------------------------------------------------------------------------------
# Weights (float32, drawn in a fixed order)
# --------------------------------------------------------------------------------------------------
def make_neox_weights(cfg, rng, buffers):
    """GPT-NeoX's tensors: gpt_neox.embed_in, per layer two LayerNorms, attention.query_key_value (rows
    [head][q | k | v][dim]), attention.dense and mlp.dense_h_to_4h / dense_4h_to_h, all with biases,
    gpt_neox.final_layer_norm and embed_out. With `buffers`, also the per-layer buffers older checkpoints
    saved (attention.bias, a BOOL causal mask; attention.masked_bias; attention.rotary_emb.inv_freq)."""
    V, H, nH, I, L = (cfg[k] for k in ("vocab_size", "hidden_size", "num_attention_heads", "intermediate_size",
                                       "num_hidden_layers"))
    D = H // nH

    def mat(*shape, std=0.08):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(*shape, std=0.02):
        return (std * rng.standard_normal(shape)).astype(np.float32)

    w = {"gpt_neox.embed_in.weight": mat(V, H, std=1.0)}
    for n in range(L):
        p = "gpt_neox.layers.%d." % n
        for name in ("input_layernorm", "post_attention_layernorm"):
            w[p + name + ".weight"] = norm(H)
            w[p + name + ".bias"] = bias(H, std=0.1)
        # q/k std 0.15 so that attention scores are O(1); drawn per projection, then interleaved per head.
        q, k, v = mat(nH, D, H, std=0.15), mat(nH, D, H, std=0.15), mat(nH, D, H)
        w[p + "attention.query_key_value.weight"] = np.stack([q, k, v], axis=1).reshape(nH * 3 * D, H)
        w[p + "attention.query_key_value.bias"] = bias(nH * 3 * D, std=0.1)
        w[p + "attention.dense.weight"] = mat(H, H)
        w[p + "attention.dense.bias"] = bias(H)
        # std 0.3: pre-activations of O(2), where exact GELU and its tanh form differ most, and an MLP output
        # that carries the difference to the logits.
        w[p + "mlp.dense_h_to_4h.weight"] = mat(I, H, std=0.3)
        w[p + "mlp.dense_h_to_4h.bias"] = bias(I)
        w[p + "mlp.dense_4h_to_h.weight"] = mat(H, I, std=0.3)
        w[p + "mlp.dense_4h_to_h.bias"] = bias(H)
        if buffers:
            P = cfg["max_position_embeddings"]
            R = int(D * cfg["rotary_pct"])
            w[p + "attention.bias"] = np.tril(np.ones((P, P), dtype=np.bool_)).reshape(1, 1, P, P)
            w[p + "attention.masked_bias"] = np.array(-1e9, dtype=np.float32)
            w[p + "attention.rotary_emb.inv_freq"] = (
                1.0 / cfg["rotary_emb_base"] ** (np.arange(0, R, 2) / R)).astype(np.float32)
    w["gpt_neox.final_layer_norm.weight"] = norm(H)
    w["gpt_neox.final_layer_norm.bias"] = bias(H, std=0.1)
    # std 0.4: logits that show the MLP's activation (exact GELU against its tanh form: about 2e-3).
    w["embed_out.weight"] = mat(V, H, std=0.4)
    return w


def make_gpt2_weights(cfg, rng, base_model_names):
    """GPT-2's tensors: transformer.wte / wpe, per layer ln_1, attn.c_attn (Conv1D [in, 3 * hidden]: q | k | v
    along its outputs), attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj (Conv1D: [in, out]), all with biases, ln_f;
    no lm_head (tied). `base_model_names`: as OpenAI's gpt2 checkpoint, saved from GPT2Model: without
    transformer., and with the per-layer buffers attn.bias (the causal mask, F32) and attn.masked_bias."""
    V, H, L, P = cfg["vocab_size"], cfg["n_embd"], cfg["n_layer"], cfg["n_positions"]
    I = cfg["n_inner"] or 4 * H

    def mat(*shape, std=0.08):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(*shape, std=0.02):
        return (std * rng.standard_normal(shape)).astype(np.float32)

    t = "" if base_model_names else "transformer."
    w = {t + "wte.weight": mat(V, H, std=1.0), t + "wpe.weight": mat(P, H, std=0.5)}
    for n in range(L):
        p = t + "h.%d." % n
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = norm(H), bias(H, std=0.1)
        # [in, out]: q and k columns std 0.15 so that attention scores are O(1).
        w[p + "attn.c_attn.weight"] = np.concatenate([mat(H, H, std=0.15), mat(H, H, std=0.15), mat(H, H)], axis=1)
        w[p + "attn.c_attn.bias"] = bias(3 * H, std=0.1)
        w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"] = mat(H, H), bias(H)
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = norm(H), bias(H, std=0.1)
        w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"] = mat(H, I), bias(I)
        w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"] = mat(I, H), bias(H)
        if base_model_names:
            w[p + "attn.bias"] = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
            w[p + "attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    w[t + "ln_f.weight"], w[t + "ln_f.bias"] = norm(H), bias(H, std=0.1)
    return w


def moe_layer(cfg, n):
    """Whether decoder layer n has a mixture of experts (else a dense MLP of intermediate_size): Glm4MoeDecoderLayer's
    (and Dots1DecoderLayer's, DeepseekV3's) layer_idx >= first_k_dense_replace; Qwen2/3-MoE's (layer_idx not in
    mlp_only_layers) and num_experts > 0 and (layer_idx + 1) % decoder_sparse_step == 0; Ernie4_5_MoeDecoderLayer's
    (layer_idx + 1) % moe_layer_interval == 0 and moe_layer_start_index <= layer_idx <= moe_layer_end_index (-1:
    num_hidden_layers - 1, as Ernie4_5_MoeConfig)."""
    kind = cfg["model_type"]
    if kind in ("glm4_moe", "dots1", "deepseek_v3"):
        return n >= cfg["first_k_dense_replace"]
    if kind == "ernie4_5_moe":
        end = cfg["moe_layer_end_index"]
        end = cfg["num_hidden_layers"] - 1 if end == -1 else end
        return (n + 1) % cfg["moe_layer_interval"] == 0 and cfg["moe_layer_start_index"] <= n <= end
    if kind in ("qwen3_moe", "qwen2_moe"):
        return (n not in cfg["mlp_only_layers"] and cfg["num_experts"] > 0
                and (n + 1) % cfg["decoder_sparse_step"] == 0)
    return True


def make_variant_weights(cfg, seed, moh, affine):
    """The Mixture-of-Heads router (moh: (shared, top_k) or None) and affine-scaling (affine) tensors of every layer,
    each from a generator of its own, so that neither changes the model's other tensors nor the other's."""
    C, nH, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    w = {}
    if moh is not None:
        rng = np.random.default_rng(seed + 4000)
        shared = moh[0]
        # The router's input is the normed layer input (each feature ~1): std 1/sqrt(hidden) gives logits of std ~1,
        # softmaxes neither uniform nor one-hot.
        std = 1.0 / np.sqrt(C)
        for n in range(L):
            p = "model.layers.%d.self_attn.moh_router." % n
            w[p + "w_routed"] = (std * rng.standard_normal((nH - shared, C))).astype(np.float32)
            w[p + "w_shared"] = (std * rng.standard_normal((shared, C))).astype(np.float32)
            w[p + "w_head"] = (std * rng.standard_normal((2, C))).astype(np.float32)
    if affine:
        rng = np.random.default_rng(seed + 5000)
        # std 4.5/sqrt(hidden): pre-activations of std ~4.5, so that 0.1 pre + 0.5 leaves [0, 1] (|pre| > 5) for
        # about a quarter of the (token, head) pairs: the clamp is exercised, most stay inside.
        std = 4.5 / np.sqrt(C)
        for n in range(L):
            p = "model.layers.%d.self_attn." % n
            w[p + "alpha_proj.weight"] = (std * rng.standard_normal((nH, C))).astype(np.float32)
            w[p + "alpha_ma"] = rng.uniform(0.2, 0.9, nH).astype(np.float32)
    return w


def mla_weights(cfg, p, mat, norm, bias):
    """DeepseekV3Attention's tensors of the layer under `p` (multi-head latent attention), drawn with `mat`, `norm` and
    `bias` in a fixed order: q_a_proj, q_a_layernorm, q_b_proj and q_proj, kv_a_proj_with_mqa, kv_a_layernorm,
    kv_b_proj, o_proj, then the biases of q_a_proj, kv_a_proj_with_mqa and o_proj. All of them whatever q_lora_rank and
    attention_bias say, and those the config does not use left out, so that each form's tensors are those the same seed
    gives the other: q_a_* and q_b_proj with q_lora_rank (q_proj, bias=False, without), the biases with
    attention_bias."""
    C, nH = cfg["hidden_size"], cfg["num_attention_heads"]
    nope, rope, dv = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    rank = cfg["kv_lora_rank"]
    # q_lora_rank null (q_proj): the unused q_a_* drawn at the tiny config's rank, so that the stream is the same.
    q_rank = cfg["q_lora_rank"] or 32
    w = {}
    # Each projection's std gives outputs of std ~1 (the inputs are RMSNorm'd, features ~1), so that the scores over
    # the 24 query / key dims are O(1) and the softmax is neither flat nor one-hot.
    w["self_attn.q_a_proj.weight"] = mat(q_rank, C, std=0.15)
    w["self_attn.q_a_layernorm.weight"] = norm(q_rank)
    w["self_attn.q_b_proj.weight"] = mat(nH * (nope + rope), q_rank, std=0.2)
    w["self_attn.q_proj.weight"] = mat(nH * (nope + rope), C, std=0.15)
    # The latent's rank rows, then the shared RoPE key's.
    w["self_attn.kv_a_proj_with_mqa.weight"] = mat(rank + rope, C, std=0.15)
    w["self_attn.kv_a_layernorm.weight"] = norm(rank)
    # Per head its nope key rows, then its value rows.
    w["self_attn.kv_b_proj.weight"] = mat(nH * (nope + dv), rank, std=0.25)
    w["self_attn.o_proj.weight"] = mat(C, nH * dv)
    # std 0.1 so that the biases move the logits visibly.
    biases = {"self_attn.q_a_proj.bias": bias(q_rank, std=0.1),
              "self_attn.kv_a_proj_with_mqa.bias": bias(rank + rope, std=0.1),
              "self_attn.o_proj.bias": bias(C, std=0.1)}
    if cfg["q_lora_rank"] is None:
        del w["self_attn.q_a_proj.weight"], w["self_attn.q_a_layernorm.weight"], w["self_attn.q_b_proj.weight"]
        del biases["self_attn.q_a_proj.bias"]              # q_proj has none
    else:
        del w["self_attn.q_proj.weight"]
    if cfg["attention_bias"]:
        w.update(biases)
    return {p + name: a for name, a in w.items()}


def make_weights(cfg, seed, neox_buffers=False, base_model_names=False):
    rng = np.random.default_rng(seed)
    # Per-head q/k gains (--qk-norm) from their own stream: the main one, and so every other weight, stays as
    # it is without them.
    qk_rng = np.random.default_rng(seed + 3000)
    if cfg["model_type"] == "gpt_neox":
        return make_neox_weights(cfg, rng, neox_buffers)
    if cfg["model_type"] == "gpt2":
        return make_gpt2_weights(cfg, rng, base_model_names)
    V, H = cfg["vocab_size"], cfg["hidden_size"]
    nH = cfg["num_attention_heads"]
    nKV = cfg.get("num_key_value_heads", nH)
    D = cfg.get("head_dim", H // nH)
    I = cfg["intermediate_size"]
    L = cfg["num_hidden_layers"]
    kind = cfg["model_type"]

    def mat(*shape, std=0.08):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def gemma_norm(n):
        # Gemma's RMSNorm scales by (1 + w): w near 0.
        return (0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(*shape, std=0.02):
        return (std * rng.standard_normal(shape)).astype(np.float32)

    w = {}
    # Embeddings ~ N(0, 1): RMSNorm follows, so their scale does not matter much. Gemma 2 multiplies
    # them by sqrt(hidden) = 8: std 0.25 keeps them from drowning the (normed) attention and MLP outputs.
    gemma = kind in ("gemma", "gemma2", "gemma3_text")
    # Granite multiplies them by 12. ERNIE 4.5 (and its MoE) and Cohere 2 tie the lm_head to them: at std 1 the last
    # token's own embedding outweighs the blocks' outputs and greedy decoding repeats it forever; at 0.1 the blocks
    # decide.
    small = kind.startswith("granite") or kind in ("ernie4_5", "ernie4_5_moe", "cohere2")
    # Nemotron at std 1: the token's own embedding outweighs the two blocks' outputs and greedy decoding falls into
    # one-token loops (seed 0 repeats one token for its last 30 of 64 steps); at 0.25 the blocks decide.
    w["model.embed_tokens.weight"] = mat(V, H, std=0.25 if gemma or kind == "nemotron" else 0.1 if small else 1.0)
    # GLM-4.5's multi-token-prediction layers: num_nextn_predict_layers full decoder layers (of the MoE form) after the
    # last, model.layers.L + i.*, each with its own eh_proj [H, 2H], enorm, hnorm and shared_head.norm; the class
    # ignores them.
    for n in range(L + cfg.get("num_nextn_predict_layers", 0)):
        p = "model.layers.%d." % n
        if n >= L:
            w[p + "enorm.weight"] = norm(H)
            w[p + "hnorm.weight"] = norm(H)
            w[p + "eh_proj.weight"] = mat(H, 2 * H)
            w[p + "shared_head.norm.weight"] = norm(H)
        if gemma:
            w[p + "input_layernorm.weight"] = gemma_norm(H)
            w[p + "post_attention_layernorm.weight"] = gemma_norm(H)
            if kind != "gemma":
                w[p + "pre_feedforward_layernorm.weight"] = gemma_norm(H)
                w[p + "post_feedforward_layernorm.weight"] = gemma_norm(H)
        elif kind in ("olmo2", "olmo3"):
            # Olmo3DecoderLayer / Olmo3Attention = OLMo 2's: the same tensors.
            w[p + "post_attention_layernorm.weight"] = norm(H)
            w[p + "post_feedforward_layernorm.weight"] = norm(H)
            w[p + "self_attn.q_norm.weight"] = norm(nH * D)
            w[p + "self_attn.k_norm.weight"] = norm(nKV * D)
        elif kind == "exaone4":
            # Exaone4DecoderLayer = Olmo2DecoderLayer: the same two norms; its q/k norms are per head (below).
            w[p + "post_attention_layernorm.weight"] = norm(H)
            w[p + "post_feedforward_layernorm.weight"] = norm(H)
        elif kind == "phi":
            w[p + "input_layernorm.weight"] = norm(H)
            w[p + "input_layernorm.bias"] = bias(H, std=0.1)
        elif kind in ("cohere", "cohere2"):
            w[p + "input_layernorm.weight"] = norm(H)               # no bias, no second norm
        elif kind == "nemotron":
            # NemotronLayerNorm1P: F.layer_norm with weight + 1, so the stored weights lie around 0 (as Gemma's), and
            # a bias; std 0.1 so that both move the logits visibly.
            for name in ("input_layernorm", "post_attention_layernorm"):
                w[p + name + ".weight"] = gemma_norm(H)
                w[p + name + ".bias"] = bias(H, std=0.1)
        elif kind == "glm4":
            # Before attention, after it, before the MLP (post_attention_layernorm), after it.
            for name in ("input_layernorm", "post_self_attn_layernorm", "post_attention_layernorm",
                         "post_mlp_layernorm"):
                w[p + name + ".weight"] = norm(H)
        else:
            w[p + "input_layernorm.weight"] = norm(H)
            w[p + "post_attention_layernorm.weight"] = norm(H)
            if kind in ("stablelm", "starcoder2", "phimoe"):
                w[p + "input_layernorm.bias"] = bias(H, std=0.1)
                w[p + "post_attention_layernorm.bias"] = bias(H, std=0.1)
            if cfg.get("use_parallel_residual"):
                # StableLM's parallel form has no post_attention_layernorm.
                del w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"]
        if kind == "phi":
            # self_attn.dense is Phi's output projection; every projection has a bias.
            w[p + "self_attn.q_proj.weight"] = mat(nH * D, H, std=0.15)
            w[p + "self_attn.k_proj.weight"] = mat(nKV * D, H, std=0.15)
            w[p + "self_attn.v_proj.weight"] = mat(nKV * D, H)
            w[p + "self_attn.dense.weight"] = mat(H, nH * D)
            for name, n_out in (("q_proj", nH * D), ("k_proj", nKV * D), ("v_proj", nKV * D), ("dense", H)):
                w[p + "self_attn.%s.bias" % name] = bias(n_out)
        elif kind == "phi3":
            # qkv_proj: the q, k and v rows stacked ([H*D + 2*KV*D, hidden]).
            w[p + "self_attn.qkv_proj.weight"] = np.concatenate(
                [mat(nH * D, H, std=0.15), mat(nKV * D, H, std=0.15), mat(nKV * D, H)], axis=0)
            w[p + "self_attn.o_proj.weight"] = mat(H, nH * D)
        elif kind == "deepseek_v3":
            w.update(mla_weights(cfg, p, mat, norm, bias))
        else:
            # q/k std 0.15 so that attention scores are O(1) and the softmax is not flat.
            w[p + "self_attn.q_proj.weight"] = mat(nH * D, H, std=0.15)
            w[p + "self_attn.k_proj.weight"] = mat(nKV * D, H, std=0.15)
            w[p + "self_attn.v_proj.weight"] = mat(nKV * D, H)
            w[p + "self_attn.o_proj.weight"] = mat(H, nH * D)
        if kind in ("ernie4_5", "ernie4_5_moe"):
            if cfg["use_bias"]:
                # Ernie4_5Attention: bias=config.use_bias on all four; std 0.1 so that they move the logits visibly.
                # (ernie4_5_moe's use_bias is false, as published.)
                w[p + "self_attn.q_proj.bias"] = bias(nH * D, std=0.1)
                w[p + "self_attn.k_proj.bias"] = bias(nKV * D, std=0.1)
                w[p + "self_attn.v_proj.bias"] = bias(nKV * D, std=0.1)
                w[p + "self_attn.o_proj.bias"] = bias(H, std=0.1)
        elif kind == "helium":
            # HeliumAttention: bias=attention_bias on q, k and v; o_proj never has one. std 0.1 so that they move the
            # logits visibly.
            if cfg["attention_bias"]:
                w[p + "self_attn.q_proj.bias"] = bias(nH * D, std=0.1)
                w[p + "self_attn.k_proj.bias"] = bias(nKV * D, std=0.1)
                w[p + "self_attn.v_proj.bias"] = bias(nKV * D, std=0.1)
        elif kind in ("seed_oss", "dots1", "cohere2", "nemotron"):
            # SeedOssAttention: bias=attention_bias on q, k and v, bias=attention_out_bias on o_proj; Dots1Attention
            # (Qwen3Attention), Cohere2Attention and NemotronAttention: bias=attention_bias on all four. std 0.1 so that
            # they move the logits visibly. All four drawn whatever the flags, so that --all-biases (--attention-bias)
            # changes no other weight.
            qkv = cfg["attention_bias"]
            out = cfg["attention_out_bias"] if kind == "seed_oss" else qkv
            for name, n_out, on in (("q_proj", nH * D, qkv), ("k_proj", nKV * D, qkv), ("v_proj", nKV * D, qkv),
                                    ("o_proj", H, out)):
                b = bias(n_out, std=0.1)
                if on:
                    w[p + "self_attn.%s.bias" % name] = b
        elif kind == "phimoe":
            # PhimoeAttention (LlamaAttention): bias=attention_bias on q, k, v and o_proj, all four; std 0.1 so that
            # they move the logits visibly.
            if cfg["attention_bias"]:
                w[p + "self_attn.q_proj.bias"] = bias(nH * D, std=0.1)
                w[p + "self_attn.k_proj.bias"] = bias(nKV * D, std=0.1)
                w[p + "self_attn.v_proj.bias"] = bias(nKV * D, std=0.1)
                w[p + "self_attn.o_proj.bias"] = bias(H, std=0.1)
        elif kind == "glm4_moe":
            # Glm4MoeAttention: bias=attention_bias on q, k and v, never on o_proj; std 0.1 so that they move the
            # logits visibly.
            if cfg["attention_bias"]:
                w[p + "self_attn.q_proj.bias"] = bias(nH * D, std=0.1)
                w[p + "self_attn.k_proj.bias"] = bias(nKV * D, std=0.1)
                w[p + "self_attn.v_proj.bias"] = bias(nKV * D, std=0.1)
        elif kind == "deepseek_v3":
            pass                                                # mla_weights drew its biases
        elif cfg.get("attention_bias", False) or cfg.get("use_bias", False):
            w[p + "self_attn.q_proj.bias"] = bias(nH * D)
            w[p + "self_attn.k_proj.bias"] = bias(nKV * D)
            w[p + "self_attn.v_proj.bias"] = bias(nKV * D)
            if kind not in ("glm", "glm4"):      # GLM's o_proj has none
                w[p + "self_attn.o_proj.bias"] = bias(H)
        if kind in ("qwen2", "qwen2_moe") or cfg.get("use_qkv_bias"):
            # q, k, v biases, none on o_proj; std 0.1 so that they move the logits visibly.
            w[p + "self_attn.q_proj.bias"] = bias(nH * D, std=0.1)
            w[p + "self_attn.k_proj.bias"] = bias(nKV * D, std=0.1)
            w[p + "self_attn.v_proj.bias"] = bias(nKV * D, std=0.1)
        if (kind == "cohere" and cfg.get("use_qk_norm")) or (kind == "stablelm" and cfg.get("qk_layernorm")):
            # Per-head LayerNorm gains [heads, D], std 0.2 so that the heads' gains differ visibly.
            gq = (1.0 + 0.2 * qk_rng.standard_normal((nH, D))).astype(np.float32)
            gk = (1.0 + 0.2 * qk_rng.standard_normal((nKV, D))).astype(np.float32)
            if kind == "cohere":
                # CohereLayerNorm(hidden_size=(num_heads, head_dim)): one [heads, D] weight.
                w[p + "self_attn.q_norm.weight"] = gq
                w[p + "self_attn.k_norm.weight"] = gk
            else:
                # StableLmLayerNormPerHead: a ModuleList of nn.LayerNorm(head_dim, bias=False), one per head.
                for name, g in (("q_layernorm", gq), ("k_layernorm", gk)):
                    for h in range(g.shape[0]):
                        w[p + "self_attn.%s.norms.%d.weight" % (name, h)] = g[h]
        if kind in ("qwen3", "qwen3_moe", "exaone4", "dots1"):
            w[p + "self_attn.q_norm.weight"] = norm(D)
            w[p + "self_attn.k_norm.weight"] = norm(D)
        if kind == "glm4_moe" and cfg["use_qk_norm"]:
            # Glm4MoeRMSNorm(head_dim): one [D] gain for every head; std 0.2 so that the norms' gains matter.
            w[p + "self_attn.q_norm.weight"] = (1.0 + 0.2 * qk_rng.standard_normal(D)).astype(np.float32)
            w[p + "self_attn.k_norm.weight"] = (1.0 + 0.2 * qk_rng.standard_normal(D)).astype(np.float32)
        if kind == "olmoe":
            # OlmoeRMSNorm(hidden_size) and OlmoeRMSNorm(head_dim * num_key_value_heads): whole projections.
            w[p + "self_attn.q_norm.weight"] = norm(nH * D)
            w[p + "self_attn.k_norm.weight"] = norm(nKV * D)
        if kind == "gemma3_text":
            w[p + "self_attn.q_norm.weight"] = gemma_norm(D)
            w[p + "self_attn.k_norm.weight"] = gemma_norm(D)
        if kind == "gpt_oss":
            E = cfg["num_local_experts"]
            w[p + "self_attn.sinks"] = rng.standard_normal(nH).astype(np.float32)
            w[p + "mlp.router.weight"] = mat(E, H, std=0.3)
            w[p + "mlp.router.bias"] = bias(E)
            # [E, H, 2I], gate and up interleaved along the last axis (gate = [..., ::2], up = [..., 1::2]).
            # std 0.45: pre-activations have std ~3.6, so the swiglu clamp at 7 is hit now and then (~5%).
            w[p + "mlp.experts.gate_up_proj"] = mat(E, H, 2 * I, std=0.45)
            w[p + "mlp.experts.gate_up_proj_bias"] = bias(E, 2 * I)
            w[p + "mlp.experts.down_proj"] = mat(E, I, H)
            w[p + "mlp.experts.down_proj_bias"] = bias(E, H)
        elif kind in ("mixtral", "phimoe"):
            E = cfg["num_local_experts"]
            if kind == "phimoe":
                # SparseMixer leaves out of each choice's softmax the experts whose logits lie more than 2 * jitter eps
                # below the best, relative to the larger of the best and their own magnitude. Rows with a shared part
                # (std 0.3: logits of magnitude ~2) plus a small own part (std 0.05: gaps of ~0.1 to ~0.5) make the
                # mask keep several experts for some tokens and the best alone for others.
                w[p + "block_sparse_moe.gate.weight"] = mat(1, H, std=0.3) + mat(E, H, std=0.05)
            else:
                w[p + "block_sparse_moe.gate.weight"] = mat(E, H, std=0.3)
            for e in range(E):
                q = p + "block_sparse_moe.experts.%d." % e
                w[q + "w1.weight"] = mat(I, H, std=0.15)
                w[q + "w2.weight"] = mat(H, I)
                w[q + "w3.weight"] = mat(I, H, std=0.15)
        elif kind in ("glm4_moe", "dots1", "deepseek_v3") and moe_layer(cfg, n):
            # Glm4MoeMoE (and Dots1MoE and DeepseekV3MoE: the same tensors): router mlp.gate (no bias; std 0.3 so that
            # the sigmoids spread over (0, 1) between tokens) and its e_score_correction_bias (float32, stored F32
            # whatever --dtype; std 0.3, about the spread of the sigmoids, so that it changes which experts win), the
            # routed experts, then the shared experts (moe_intermediate_size * n_shared_experts, no gate of their own).
            E, Im, Is = cfg["n_routed_experts"], cfg["moe_intermediate_size"], \
                cfg["moe_intermediate_size"] * cfg["n_shared_experts"]
            w[p + "mlp.gate.weight"] = mat(E, H, std=0.3)
            w[p + "mlp.gate.e_score_correction_bias"] = bias(E, std=0.3)
            for e in range(E):
                q = p + "mlp.experts.%d." % e
                w[q + "gate_proj.weight"] = mat(Im, H, std=0.15)
                w[q + "up_proj.weight"] = mat(Im, H, std=0.15)
                w[q + "down_proj.weight"] = mat(H, Im)
            q = p + "mlp.shared_experts."
            w[q + "gate_proj.weight"] = mat(Is, H, std=0.15)
            w[q + "up_proj.weight"] = mat(Is, H, std=0.15)
            w[q + "down_proj.weight"] = mat(H, Is)
        elif kind == "ernie4_5_moe" and moe_layer(cfg, n):
            # Ernie4_5_MoeSparseMoeBlock: router mlp.gate (no bias, float32: stored F32; std 0.3 so that the softmax is
            # peaked and its winners change between tokens) and mlp.moe_statics.e_score_correction_bias [1, E] (float32,
            # stored F32; std 0.3, about the spread of the probabilities, so that it changes which experts win), the
            # routed experts, then the shared experts (moe_intermediate_size * moe_num_shared_experts, no gate of their
            # own; --no-shared drops them after the draw).
            E, Im = cfg["moe_num_experts"], cfg["moe_intermediate_size"]
            Is = Im * cfg["moe_num_shared_experts"]
            w[p + "mlp.gate.weight"] = mat(E, H, std=0.3)
            w[p + "mlp.moe_statics.e_score_correction_bias"] = bias(1, E, std=0.3)
            for e in range(E):
                q = p + "mlp.experts.%d." % e
                w[q + "gate_proj.weight"] = mat(Im, H, std=0.15)
                w[q + "up_proj.weight"] = mat(Im, H, std=0.15)
                w[q + "down_proj.weight"] = mat(H, Im)
            if Is > 0:
                q = p + "mlp.shared_experts."
                w[q + "gate_proj.weight"] = mat(Is, H, std=0.15)
                w[q + "up_proj.weight"] = mat(Is, H, std=0.15)
                w[q + "down_proj.weight"] = mat(H, Is)
        elif kind in ("qwen3_moe", "qwen2_moe", "olmoe") and moe_layer(cfg, n):
            # OLMoE's experts are of intermediate_size; Qwen's dense layers (--mixed-layers) take the last branch.
            E, Im = cfg["num_experts"], I if kind == "olmoe" else cfg["moe_intermediate_size"]
            w[p + "mlp.gate.weight"] = mat(E, H, std=0.3)
            for e in range(E):
                q = p + "mlp.experts.%d." % e
                w[q + "gate_proj.weight"] = mat(Im, H, std=0.15)
                w[q + "up_proj.weight"] = mat(Im, H, std=0.15)
                w[q + "down_proj.weight"] = mat(H, Im)
            if kind == "qwen2_moe":
                Is = cfg["shared_expert_intermediate_size"]
                q = p + "mlp.shared_expert."
                w[q + "gate_proj.weight"] = mat(Is, H, std=0.15)
                w[q + "up_proj.weight"] = mat(Is, H, std=0.15)
                w[q + "down_proj.weight"] = mat(H, Is)
                # std 0.3: the gate's sigmoid spreads over (0, 1) between tokens.
                w[p + "mlp.shared_expert_gate.weight"] = mat(1, H, std=0.3)
        elif kind == "granitemoe":
            E = cfg["num_local_experts"]
            w[p + "block_sparse_moe.router.layer.weight"] = mat(E, H, std=0.3)
            # Each expert's gate rows, then its up rows.
            w[p + "block_sparse_moe.input_linear.weight"] = mat(E, 2 * I, H, std=0.15)
            w[p + "block_sparse_moe.output_linear.weight"] = mat(E, H, I)
        elif kind == "phi":
            w[p + "mlp.fc1.weight"] = mat(I, H)
            w[p + "mlp.fc1.bias"] = bias(I)
            w[p + "mlp.fc2.weight"] = mat(H, I)
            w[p + "mlp.fc2.bias"] = bias(H)
        elif kind == "starcoder2":
            w[p + "mlp.c_fc.weight"] = mat(I, H)
            w[p + "mlp.c_fc.bias"] = bias(I)
            w[p + "mlp.c_proj.weight"] = mat(H, I)
            w[p + "mlp.c_proj.bias"] = bias(H)
        elif kind in ("arcee", "nemotron"):
            # ArceeMLP (NemotronMLP): up_proj and down_proj, no gate. up_proj std 0.06 (pre-activations of std ~0.5):
            # relu(x)^2 then keeps the MLP's output about as large as Llama's SwiGLU's (at 0.1 and more the squares
            # come to rival the residual stream and greedy decoding falls into short loops). The biases
            # (bias=mlp_bias on both; std 0.1 so that they move the logits visibly) are drawn whatever the flag, so
            # that --mlp-bias changes no other weight.
            w[p + "mlp.up_proj.weight"] = mat(I, H, std=0.06)
            w[p + "mlp.down_proj.weight"] = mat(H, I)
            for name, n_out in (("up_proj", I), ("down_proj", H)):
                b = bias(n_out, std=0.1)
                if cfg["mlp_bias"]:
                    w[p + "mlp.%s.bias" % name] = b
        elif kind in ("phi3", "glm", "glm4"):
            # gate_up_proj: the gate rows, then the up rows ([2I, hidden]).
            w[p + "mlp.gate_up_proj.weight"] = np.concatenate([mat(I, H), mat(I, H)], axis=0)
            w[p + "mlp.down_proj.weight"] = mat(H, I)
        else:
            w[p + "mlp.gate_proj.weight"] = mat(I, H)
            w[p + "mlp.up_proj.weight"] = mat(I, H)
            w[p + "mlp.down_proj.weight"] = mat(H, I)
            if kind == "ernie4_5" and cfg["use_bias"]:
                # Ernie4_5MLP: bias=config.use_bias on gate_proj, up_proj and down_proj.
                w[p + "mlp.gate_proj.bias"] = bias(I, std=0.1)
                w[p + "mlp.up_proj.bias"] = bias(I, std=0.1)
                w[p + "mlp.down_proj.bias"] = bias(H, std=0.1)
            if kind == "helium" and cfg["mlp_bias"]:
                # HeliumMLP (LlamaMLP): bias=config.mlp_bias on gate_proj, up_proj and down_proj.
                w[p + "mlp.gate_proj.bias"] = bias(I, std=0.1)
                w[p + "mlp.up_proj.bias"] = bias(I, std=0.1)
                w[p + "mlp.down_proj.bias"] = bias(H, std=0.1)
            if kind == "seed_oss":
                # SeedOssMLP: bias=config.mlp_bias on all three; drawn whatever the flag, as the attention's.
                for name, n_out in (("gate_proj", I), ("up_proj", I), ("down_proj", H)):
                    b = bias(n_out, std=0.1)
                    if cfg["mlp_bias"]:
                        w[p + "mlp.%s.bias" % name] = b
    final = "model.final_layernorm." if kind == "phi" else "model.norm."
    # Nemotron's model.norm is a NemotronLayerNorm1P too (weight + 1): its weight around 0.
    w[final + "weight"] = gemma_norm(H) if gemma or kind == "nemotron" else norm(H)
    if kind in ("stablelm", "starcoder2", "phi", "phimoe", "nemotron"):
        w[final + "bias"] = bias(H, std=0.1)
    if not cfg.get("tie_word_embeddings", kind == "cohere"):   # CohereConfig ties by default
        w["lm_head.weight"] = mat(V, H, std=0.2)
    if kind == "phi" or (kind == "phimoe" and cfg["lm_head_bias"]):
        w["lm_head.bias"] = bias(V, std=0.1)
    if kind == "ernie4_5_moe":
        # ERNIE 4.5 MoE's multi-token-prediction layer, as the published checkpoints hold one: a decoder layer
        # model.mtp_block.0.* (with a dense MLP here) beside mtp_emb_norm.0, mtp_hidden_norm.0 and mtp_linear_proj.0
        # [H, 2H]; the class ignores every tensor whose name contains "mtp". Drawn last: every other weight is the one
        # the same seed gives without them.
        p = "model.mtp_block.0."
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
        w[p + "self_attn.q_proj.weight"] = mat(nH * D, H, std=0.15)
        w[p + "self_attn.k_proj.weight"] = mat(nKV * D, H, std=0.15)
        w[p + "self_attn.v_proj.weight"] = mat(nKV * D, H)
        w[p + "self_attn.o_proj.weight"] = mat(H, nH * D)
        w[p + "mlp.gate_proj.weight"] = mat(I, H)
        w[p + "mlp.up_proj.weight"] = mat(I, H)
        w[p + "mlp.down_proj.weight"] = mat(H, I)
        w["model.mtp_emb_norm.0.weight"] = norm(H)
        w["model.mtp_hidden_norm.0.weight"] = norm(H)
        w["model.mtp_linear_proj.0.weight"] = mat(H, 2 * H)
    return w


# --------------------------------------------------------------------------------------------------
# Rounding and the safetensors format
# --------------------------------------------------------------------------------------------------
def f32_to_bf16_bits(a):
    """uint16 bit patterns of bfloat16(a): the top 16 bits of the float32, rounded to nearest, ties to
    even (finite inputs)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = u + 0x7FFF + ((u >> 16) & 1)
    return (u >> 16).astype(np.uint16)


def mxfp4_pack(w):
    """(blocks, scales) U8 arrays of float array w [E, in, out] (the unquantized layout), packed along
    `in` per (expert, output) row: groups of 32 inputs share the exponent e = ceil(log2(max|w| / 6)), each
    value the e2m1 nearest to w / 2^e (ties to the smaller magnitude). One expert at a time, so that
    real-sized experts fit in memory."""
    E, C, R = w.shape
    blocks = np.empty((E, R, C // 32, 16), dtype=np.uint8)
    scales = np.empty((E, R, C // 32), dtype=np.uint8)
    # Midpoints between consecutive magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6.
    mids = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])
    for e in range(E):
        groups = np.ascontiguousarray(w[e].T, dtype=np.float64).reshape(R, C // 32, 32)   # [out, in/32, 32]
        amax = np.abs(groups).max(axis=-1)
        exponent = np.where(amax > 0, np.ceil(np.log2(np.maximum(amax, 1e-30) / 6.0)), 0).astype(np.int64)
        exponent = np.clip(exponent, -127, 127)
        scaled = groups / np.ldexp(1.0, exponent)[..., None]
        codes = np.searchsorted(mids, np.abs(scaled), side="left").astype(np.uint8)
        codes |= (np.signbit(scaled) & (codes > 0)).astype(np.uint8) << 3
        blocks[e] = codes[..., 0::2] | (codes[..., 1::2] << 4)
        scales[e] = (exponent + 127).astype(np.uint8)
    return blocks, scales


def encode(a, dtype):
    """Raw little-endian bytes of float32 array `a` stored as `dtype` (f32, bf16 or f16); a uint8 (U8) or
    bool (BOOL) array is stored as it is."""
    if a.dtype in (np.uint8, np.bool_):
        return np.ascontiguousarray(a).tobytes()
    if dtype == "f32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "f16":
        return np.ascontiguousarray(a.astype(np.float16), dtype="<f2").tobytes()
    if dtype == "bf16":
        return np.ascontiguousarray(f32_to_bf16_bits(a), dtype="<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype, metadata=None, float32=()):
    """tensors: ordered {name: float32 array}. Header: 8-byte little-endian length N, N bytes of JSON
    padded with spaces to a multiple of 8, then the data, each tensor at its data_offsets (relative to
    the end of the header). The tensors whose names end with one of `float32` (the arch's FLOAT32_TENSORS) stay
    F32."""
    header = {}
    blobs = []
    offset = 0
    for name, a in tensors.items():
        tdtype = "f32" if name.endswith(float32) else dtype
        data = encode(a, tdtype)
        stored = "U8" if a.dtype == np.uint8 else "BOOL" if a.dtype == np.bool_ else ST_DTYPE[tdtype]
        header[name] = {"dtype": stored, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    return offset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, choices=ARCHS)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--mxfp4", action="store_true", help="gptoss: store the experts as MXFP4 blocks and scales")
    ap.add_argument("--mm-layout", choices=["old", "new"], default="old",
                    help="gemma3mm: language_model.model.* (old) or model.language_model.* (new) tensor names")
    ap.add_argument("--norm-topk-prob", action="store_true",
                    help="qwen3moe, qwen2moe, olmoe: renormalize the chosen experts' weights (norm_topk_prob true)")
    ap.add_argument("--no-shared-gate", action="store_true",
                    help="qwen2moe: no mlp.shared_expert_gate tensors (a .xf spec's shared expert without "
                         "shared_gate; config.json still names Qwen2-MoE, whose class has the gate)")
    ap.add_argument("--parallel-residual", action="store_true",
                    help="stablelm: attention and MLP on input_layernorm's output (use_parallel_residual true)")
    ap.add_argument("--sequential-residual", action="store_true",
                    help="gptneox: attention, then the MLP, each after its norm (use_parallel_residual false)")
    ap.add_argument("--base-model-names", action="store_true",
                    help="gpt2: as a checkpoint saved from GPT2Model: tensor names without transformer., and the "
                         "attn.bias / attn.masked_bias buffers")
    ap.add_argument("--untied", action="store_true",
                    help="gpt2: tie_word_embeddings false and an lm_head.weight of its own; cohere2: the same, with "
                         "use_embedding_sharing false")
    ap.add_argument("--qk-norm", action="store_true",
                    help="cohere, stablelm: per-head q/k LayerNorms with each head's own gains (use_qk_norm / "
                         "qk_layernorm true); glm4_moe: use_qk_norm true, q/k RMSNorms over head_dim with one gain "
                         "for every head")
    ap.add_argument("--no-bias", action="store_true",
                    help="ernie4_5: use_bias false and no bias tensors (as the published models); the other "
                         "weights as with the biases")
    ap.add_argument("--layer-types", action="store_true",
                    help="exaone4: list layer_types (sliding, full, sliding, full) beside sliding_window_pattern "
                         "\"LLLG\", which the class then ignores; olmo3: list layer_types (full, sliding, full, "
                         "sliding); dots1: sliding_window 16 and layer_types (full, sliding, full, sliding); cohere2: "
                         "layer_types (full, sliding, sliding, full) beside sliding_window_pattern 4, which the class "
                         "then ignores")
    ap.add_argument("--no-window", action="store_true",
                    help="exaone4: sliding_window null (every layer full and rotated) and four full_attention "
                         "layer_types")
    ap.add_argument("--all-biases", action="store_true",
                    help="seed_oss: attention_out_bias and mlp_bias true, with o_proj's and the MLP's bias tensors; "
                         "dots1: attention_bias true, with q/k/v/o_proj's bias tensors; the other weights as without "
                         "them")
    ap.add_argument("--mixed-layers", action="store_true",
                    help="qwen3moe, qwen2moe: 4 layers, decoder_sparse_step 2 and mlp_only_layers [3]: layer 1 a mixture, "
                         "layers 0, 2 and 3 dense MLPs of intermediate_size 96")
    ap.add_argument("--single-group", action="store_true",
                    help="glm4_moe: the published routing form: n_group 1, topk_group 1, routed_scaling_factor 1.0, "
                         "n_shared_experts 1")
    ap.add_argument("--interval", action="store_true",
                    help="ernie4_5_moe: moe_layer_interval 2 and moe_layer_end_index -1 (num_hidden_layers - 1): "
                         "layers 1 and 3 the mixtures, layers 0, 2 and 4 dense MLPs")
    ap.add_argument("--no-shared", action="store_true",
                    help="ernie4_5_moe: moe_num_shared_experts 0 and no mlp.shared_experts tensors; the other weights "
                         "as with them")
    ap.add_argument("--no-rope-scaling", action="store_true",
                    help="phimoe: rope_scaling null (plain RoPE, cos and sin unscaled); the weights the same")
    ap.add_argument("--no-q-lora", action="store_true",
                    help="deepseek_v3: q_lora_rank null, one self_attn.q_proj instead of q_a_proj, q_a_layernorm and "
                         "q_b_proj; the other weights as with them")
    ap.add_argument("--no-interleave", action="store_true",
                    help="deepseek_v3: rope_interleave false (rotate-half on the RoPE dims as stored)")
    ap.add_argument("--yarn", action="store_true",
                    help="deepseek_v3: DeepSeek-V3's yarn rope_scaling (type yarn, factor 4, "
                         "original_max_position_embeddings 128, beta_fast 32, beta_slow 1, mscale 1.0, mscale_all_dim "
                         "0.8); arcee: AFM-4.5B's (rope_type yarn, factor 4, original_max_position_embeddings 128, "
                         "beta_fast 32, beta_slow 1, mscale 1.0); max_position_embeddings stays 512 = 4 x 128")
    ap.add_argument("--attention-bias", action="store_true",
                    help="deepseek_v3: attention_bias true, with q_a_proj's, kv_a_proj_with_mqa's and o_proj's biases; "
                         "cohere2, nemotron: attention_bias true, with q/k/v/o_proj's biases; the other weights as "
                         "without them")
    ap.add_argument("--mlp-bias", action="store_true",
                    help="arcee, nemotron: mlp_bias true, with up_proj's and down_proj's biases; the other weights as "
                         "without them")
    ap.add_argument("--relu", action="store_true",
                    help="arcee: hidden_act \"relu\" (not relu2 = relu(x)^2); llama: \"relu\" under the gate (not "
                         "silu); the weights the same")
    ap.add_argument("--relu2", action="store_true",
                    help="llama: hidden_act \"relu2\" (relu(x)^2) under the gate; the weights the same")
    ap.add_argument("--tied", action="store_true",
                    help="nemotron: tie_word_embeddings true and no lm_head.weight (drawn last: the other weights as "
                         "untied)")
    ap.add_argument("--neox-buffers", action="store_true",
                    help="gptneox: also write the buffers older checkpoints saved (a BOOL causal mask, "
                         "masked_bias, rotary_emb.inv_freq)")
    ap.add_argument("--moh", metavar="SHARED,TOPK",
                    help="llama, deepseek_v3: add Mixture-of-Heads router tensors (self_attn.moh_router.w_routed / w_shared / "
                         "w_head) for SHARED shared heads and TOPK active routed heads; config.json unchanged")
    ap.add_argument("--affine", action="store_true",
                    help="llama, deepseek_v3: add affine-scaling tensors (self_attn.alpha_proj.weight, self_attn.alpha_ma); "
                         "config.json unchanged")
    args = ap.parse_args(argv)
    if args.shards < 1:
        ap.error("--shards must be >= 1")
    if args.mxfp4 and args.arch != "gptoss":
        ap.error("--mxfp4 applies to --arch gptoss")
    if args.norm_topk_prob and args.arch not in ("qwen3moe", "qwen2moe", "olmoe"):
        ap.error("--norm-topk-prob applies to --arch qwen3moe, qwen2moe and olmoe")
    if args.no_shared_gate and args.arch != "qwen2moe":
        ap.error("--no-shared-gate applies to --arch qwen2moe")
    if args.parallel_residual and args.arch != "stablelm":
        ap.error("--parallel-residual applies to --arch stablelm")
    if args.qk_norm and args.arch not in ("cohere", "stablelm", "glm4_moe"):
        ap.error("--qk-norm applies to --arch cohere, stablelm and glm4_moe")
    if args.mixed_layers and args.arch not in ("qwen3moe", "qwen2moe"):
        ap.error("--mixed-layers applies to --arch qwen3moe and qwen2moe")
    if args.single_group and args.arch != "glm4_moe":
        ap.error("--single-group applies to --arch glm4_moe")
    if args.no_bias and args.arch != "ernie4_5":
        ap.error("--no-bias applies to --arch ernie4_5")
    if (args.interval or args.no_shared) and args.arch != "ernie4_5_moe":
        ap.error("--interval and --no-shared apply to --arch ernie4_5_moe")
    if args.all_biases and args.arch not in ("seed_oss", "dots1"):
        ap.error("--all-biases applies to --arch seed_oss and dots1")
    if args.layer_types and args.arch not in ("exaone4", "olmo3", "dots1", "cohere2"):
        ap.error("--layer-types applies to --arch exaone4, olmo3, dots1 and cohere2")
    if args.no_window and args.arch != "exaone4":
        ap.error("--no-window applies to --arch exaone4")
    if args.layer_types and args.no_window:
        ap.error("--layer-types and --no-window exclude each other")
    if args.no_rope_scaling and args.arch != "phimoe":
        ap.error("--no-rope-scaling applies to --arch phimoe")
    if (args.no_q_lora or args.no_interleave) and args.arch != "deepseek_v3":
        ap.error("--no-q-lora and --no-interleave apply to --arch deepseek_v3")
    if args.yarn and args.arch not in ("deepseek_v3", "arcee"):
        ap.error("--yarn applies to --arch deepseek_v3 and arcee")
    if args.mlp_bias and args.arch not in ("arcee", "nemotron"):
        ap.error("--mlp-bias applies to --arch arcee and nemotron")
    if args.relu and args.arch not in ("arcee", "llama"):
        ap.error("--relu applies to --arch arcee and llama")
    if args.relu2 and args.arch != "llama":
        ap.error("--relu2 applies to --arch llama")
    if args.relu and args.relu2:
        ap.error("--relu and --relu2 exclude each other")
    if args.attention_bias and args.arch not in ("deepseek_v3", "cohere2", "nemotron"):
        ap.error("--attention-bias applies to --arch deepseek_v3, cohere2 and nemotron")
    if args.tied and args.arch != "nemotron":
        ap.error("--tied applies to --arch nemotron")
    if (args.sequential_residual or args.neox_buffers) and args.arch != "gptneox":
        ap.error("--sequential-residual and --neox-buffers apply to --arch gptneox")
    if args.base_model_names and args.arch != "gpt2":
        ap.error("--base-model-names applies to --arch gpt2")
    if args.untied and args.arch not in ("gpt2", "cohere2"):
        ap.error("--untied applies to --arch gpt2 and cohere2")
    if args.base_model_names and args.untied:
        ap.error("--untied needs GPT2LMHeadModel's names (a GPT2Model checkpoint has no lm_head)")
    if (args.moh is not None or args.affine) and args.arch not in ("llama", "deepseek_v3"):
        ap.error("--moh and --affine apply to --arch llama and deepseek_v3")
    moh = None
    if args.moh is not None:
        try:
            moh = tuple(int(t) for t in args.moh.split(","))
        except ValueError:
            moh = ()
        if len(moh) != 2:
            ap.error("--moh takes SHARED,TOPK (two integers), got %r" % args.moh)

    cfg = make_config(args.arch, args.dtype)
    if moh is not None:
        heads = cfg["num_attention_heads"]
        if not 0 <= moh[0] < heads or not 1 <= moh[1] <= heads - moh[0]:
            ap.error("--moh %d,%d: need 0 <= SHARED < %d and 1 <= TOPK <= %d - SHARED" % (moh + (heads, heads)))
    if args.norm_topk_prob:
        cfg["norm_topk_prob"] = True
    if args.parallel_residual:
        cfg["use_parallel_residual"] = True
    if args.sequential_residual:
        cfg["use_parallel_residual"] = False
    if args.qk_norm:
        cfg["use_qk_norm" if args.arch in ("cohere", "glm4_moe") else "qk_layernorm"] = True
    if args.mixed_layers:
        # Layers 0 and 2 dense by the step, 3 by the list (the step would make it a mixture), 1 the mixture.
        cfg["num_hidden_layers"] = 4
        cfg["decoder_sparse_step"] = 2
        cfg["mlp_only_layers"] = [3]
        cfg["intermediate_size"] = 96
        cfg["max_window_layers"] = 4
    if args.single_group:
        cfg["n_group"] = 1
        cfg["topk_group"] = 1
        cfg["routed_scaling_factor"] = 1.0
        cfg["n_shared_experts"] = 1
    if args.layer_types and args.arch == "olmo3":
        # Not the default (sliding, sliding, sliding, full): a reader that ignored them would differ on layers 0, 2, 3.
        cfg["layer_types"] = ["full_attention", "sliding_attention", "full_attention", "sliding_attention"]
    elif args.layer_types and args.arch == "cohere2":
        # Not the pattern's (sliding, sliding, sliding, full): a reader that derived them from sliding_window_pattern 4,
        # which stays beside them as published, would differ on layers 0 and 3 (window and RoPE).
        cfg["layer_types"] = ["full_attention", "sliding_attention", "sliding_attention", "full_attention"]
    elif args.layer_types and args.arch == "dots1":
        # Not what max_window_layers 4 derives (every layer full) nor every layer sliding: a reader that derived them,
        # or put the window on every layer, would differ. A window of 16, which prompts of more than 16 tokens cross.
        cfg["sliding_window"] = 16
        cfg["layer_types"] = ["full_attention", "sliding_attention", "full_attention", "sliding_attention"]
    elif args.layer_types:
        # Not the pattern's (sliding, sliding, sliding, full): a reader that derived them from "LLLG" would differ.
        cfg["layer_types"] = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
        cfg["sliding_window_pattern"] = "LLLG"
    if args.no_window:
        cfg["sliding_window"] = None
        cfg["layer_types"] = ["full_attention"] * cfg["num_hidden_layers"]
    if args.all_biases and args.arch == "dots1":
        cfg["attention_bias"] = True
    elif args.all_biases:
        cfg["attention_out_bias"] = True
        cfg["mlp_bias"] = True
    if args.no_rope_scaling:
        cfg["rope_scaling"] = None
    if args.no_q_lora:
        cfg["q_lora_rank"] = None
    if args.no_interleave:
        cfg["rope_interleave"] = False
    if args.yarn and args.arch == "arcee":
        # As AFM-4.5B publishes it: "rope_type", float betas, mscale 1.0 and no mscale_all_dim, so that cos and sin are
        # scaled by _compute_yarn_parameters' default get_mscale(factor) = 0.1 ln 4 + 1 (not by mscale itself).
        # factor 4 = max_position_embeddings / original_max_position_embeddings, as for deepseek_v3 below.
        cfg["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128,
                               "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0}
    elif args.yarn:
        # As DeepSeek-V3 publishes it ("type", integer betas), with mscale != mscale_all_dim (1.0 both there) so that
        # cos and sin are scaled (by mscale(1.0) / mscale(0.8) = 1.025) as well as the scores (by mscale(0.8)^2 =
        # 1.234).
        # factor 4 = max_position_embeddings / original_max_position_embeddings: transformers 4.x reads that ratio as
        # the factor, 5.x the factor as given.
        cfg["rope_scaling"] = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128, "beta_fast": 32,
                               "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 0.8}
    if args.attention_bias:
        cfg["attention_bias"] = True
    if args.mlp_bias:
        cfg["mlp_bias"] = True
    if args.relu:
        cfg["hidden_act"] = "relu"
    if args.relu2:
        cfg["hidden_act"] = "relu2"
    if args.untied and args.arch == "cohere2":
        # make_weights draws the lm_head last: every other weight stays the one the same seed gives tied.
        cfg["tie_word_embeddings"] = False
        cfg["use_embedding_sharing"] = False
    if args.tied:
        # make_weights draws the lm_head last, and not when tied: every other weight stays the one the same seed gives
        # untied.
        cfg["tie_word_embeddings"] = True
    if args.interval:
        # Layers 1 and 3 the mixtures ((l + 1) % 2 == 0, 1 <= l <= 4), 0 (before the start), 2 and 4 (by the interval)
        # dense.
        cfg["moe_layer_interval"] = 2
        cfg["moe_layer_end_index"] = -1
    if args.arch in MULTIMODAL:
        text = dict(cfg["text_config"], torch_dtype=cfg["torch_dtype"])
        lm = make_weights(text, args.seed)
        rng = np.random.default_rng(args.seed + 1000)
        if args.mm_layout == "old":
            weights = {("language_model." + n): a for n, a in lm.items()}
            tower = "vision_tower.vision_model."
        else:
            weights = {(n.replace("model.", "model.language_model.", 1) if n.startswith("model.") else n): a
                       for n, a in lm.items()}
            tower = "model.vision_tower.vision_model."
        # A few tensors of the vision tower and projector, which a text model must leave alone.
        weights[tower + "embeddings.patch_embedding.weight"] = rng.standard_normal((16, 3, 14, 14)).astype(np.float32)
        weights[tower + "post_layernorm.weight"] = rng.standard_normal(16).astype(np.float32)
        proj = "multi_modal_projector." if args.mm_layout == "old" else "model.multi_modal_projector."
        weights[proj + "mm_input_projection_weight"] = rng.standard_normal((16, 64)).astype(np.float32)
    else:
        weights = make_weights(cfg, args.seed, args.neox_buffers, args.base_model_names)
    if moh is not None or args.affine:
        weights.update(make_variant_weights(cfg, args.seed, moh, args.affine))
    if args.no_shared_gate:
        weights = {n: a for n, a in weights.items() if not n.endswith("mlp.shared_expert_gate.weight")}
    if args.no_bias:
        # Drawn, then dropped: every other weight stays the one the same seed gives with use_bias.
        cfg["use_bias"] = False
        weights = {n: a for n, a in weights.items() if not n.endswith(".bias")}
    if args.no_shared:
        # Drawn, then dropped: every other weight stays the one the same seed gives with the shared experts.
        cfg["moe_num_shared_experts"] = 0
        weights = {n: a for n, a in weights.items() if ".mlp.shared_experts." not in n}
    if args.untied and args.arch == "gpt2":
        cfg["tie_word_embeddings"] = False
        rng = np.random.default_rng(args.seed + 2000)
        weights["lm_head.weight"] = (0.2 * rng.standard_normal((cfg["vocab_size"], cfg["n_embd"]))).astype(np.float32)
    if args.mxfp4:
        cfg["quantization_config"] = {"quant_method": "mxfp4", "modules_to_not_convert": [
            "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}
        packed = {}
        for name, a in weights.items():
            if name.endswith(("mlp.experts.gate_up_proj", "mlp.experts.down_proj")):
                packed[name + "_blocks"], packed[name + "_scales"] = mxfp4_pack(a)
            else:
                packed[name] = a
        weights = packed
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    float32 = FLOAT32_TENSORS.get(args.arch, ())
    if args.shards == 1:
        write_safetensors(os.path.join(args.out, "model.safetensors"), weights, args.dtype, float32=float32)
        return 0

    # Split the tensors, in order, into K contiguous groups of roughly equal byte size.
    names = list(weights)
    if args.shards > len(names):
        ap.error("--shards %d exceeds the number of tensors (%d)" % (args.shards, len(names)))
    itemsize = 4 if args.dtype == "f32" else 2
    sizes = [weights[n].size * (1 if weights[n].dtype in (np.uint8, np.bool_) else 4 if n.endswith(float32)
                                else itemsize) for n in names]
    total = sum(sizes)
    # Shard k starts at the first tensor whose byte offset reaches k/K of the total, pushed on where
    # needed so that every shard holds at least one tensor.
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    bounds = [0]
    for k in range(1, args.shards):
        b = int(np.searchsorted(starts, k * total / args.shards))
        bounds.append(min(max(b, bounds[-1] + 1), len(names) - (args.shards - k)))
    bounds.append(len(names))
    groups = [names[bounds[k]:bounds[k + 1]] for k in range(args.shards)]
    weight_map = {}
    for k, group in enumerate(groups):
        fname = "model-%05d-of-%05d.safetensors" % (k + 1, args.shards)
        write_safetensors(os.path.join(args.out, fname), {n: weights[n] for n in group}, args.dtype, float32=float32)
        for n in group:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
