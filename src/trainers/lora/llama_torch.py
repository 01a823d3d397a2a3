"""The llama forward pass in torch, as llama.cpp computes it for the models MOC generates (src/model/demo-model.ts) and
for llama-architecture GGUFs like them (llama.cpp src/models/llama.cpp, llama-graph.cpp):

    x = token_embd[tokens]
    per layer:  h = x + wo · attn(rope(wq · rms(x)), rope(wk · rms(x)), wv · rms(x))     (causal, GQA, 1/sqrt(head))
                x = h + w_down · (silu(w_gate · rms(h)) * (w_up · rms(h)))
    logits = output · rms(x)        (output = token_embd when the GGUF has no output.weight: tied)

    rms(x) = x / sqrt(mean(x²) + eps) * weight                     eps: llama.attention.layer_norm_rms_epsilon
    rope: llama.cpp's NORM mode for llama (LLAMA_ROPE_TYPE_NORM): adjacent pairs (x[2i], x[2i+1]) of each head are
          rotated by pos · base^(-2i/n_rot) (base: llama.rope.freq_base, default 10000); not NeoX's (x[i], x[i+d/2]).

ggml counts dimensions innermost first: a weight with ne = [in, out] is, in row-major numpy, (out, in), which is
torch.nn.Linear's layout, so y = x @ W.T with no transpose of the data.

LoRA (llama.cpp's build_lora_mm): for an adapted weight W with A (ne [in, rank] -> (rank, in)) and B (ne [rank, out]
-> (out, rank)), y = W·x + scale · alpha / rank · B·(A·x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from gguf_reader import GgufError, GgufFile

# Faults a check must catch, for its own negative tests: each is a plausible mistake in a port of llama.cpp.
FAULTS = ("no-rmsnorm", "neox-rope", "no-causal-mask")


@dataclass
class LlamaConfig:
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_rot: int
    rope_base: float
    eps: float
    context_length: int

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @staticmethod
    def from_gguf(g: GgufFile) -> "LlamaConfig":
        m = g.metadata
        arch = m.get("general.architecture")
        if arch != "llama":
            raise GgufError(f"{g.path} is a {arch!r} model; this trainer implements the llama architecture only")
        if m.get("general.type", "model") != "model":
            raise GgufError(f"{g.path} is a {m['general.type']!r}, not a model")

        def need(key: str) -> int:
            v = m.get(f"llama.{key}")
            if not isinstance(v, int) or v < 1:
                raise GgufError(f"{g.path} has no usable llama.{key} ({v!r})")
            return v

        n_head = need("attention.head_count")
        n_embd = need("embedding_length")
        # Features llama.cpp supports for llama and this port does not: refused, never silently ignored.
        for key in ("llama.expert_count", "llama.rope.scaling.type", "llama.attention.scale"):
            v = m.get(key)
            if v not in (None, 0, "none", 0.0):
                raise GgufError(f"{g.path} sets {key} = {v!r}, which this trainer does not implement")
        if "rope_freqs.weight" in g.tensors:
            raise GgufError(f"{g.path} has rope_freqs.weight (llama 3 rope scaling), which this trainer does not implement")
        n_vocab = m.get("llama.vocab_size") or len(m.get("tokenizer.ggml.tokens") or [])
        cfg = LlamaConfig(
            n_vocab=n_vocab,
            n_embd=n_embd,
            n_layer=need("block_count"),
            n_head=n_head,
            n_head_kv=m.get("llama.attention.head_count_kv") or n_head,
            n_ff=need("feed_forward_length"),
            n_rot=m.get("llama.rope.dimension_count") or n_embd // n_head,
            rope_base=float(m.get("llama.rope.freq_base", 10000.0)),
            eps=float(m.get("llama.attention.layer_norm_rms_epsilon", 1e-5)),
            context_length=need("context_length"),
        )
        if n_embd % n_head or n_head % cfg.n_head_kv:
            raise GgufError(f"{g.path}: {n_embd} wide with {n_head} heads and {cfg.n_head_kv} KV heads does not divide")
        if cfg.n_rot != cfg.head_dim:
            raise GgufError(f"{g.path}: rope over {cfg.n_rot} of {cfg.head_dim} head dimensions is not implemented")
        return cfg


# The attention projections, as MOC's adapters target them (src/model/lora-adapter.ts LORA_TARGETS).
LORA_TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output")


@dataclass
class LoraPair:
    a: torch.Tensor  # (rank, in)
    b: torch.Tensor  # (out, rank)
    scale: float  # adapter scale · alpha / rank


@dataclass
class Lora:
    """LoRA pairs by base tensor name (blk.N.attn_q.weight ...)."""

    pairs: dict[str, LoraPair] = field(default_factory=dict)

    @staticmethod
    def from_gguf(path: str, scale: float = 1.0, base: "LlamaModel | None" = None) -> "Lora":
        with GgufFile(path) as g:
            m = g.metadata
            if m.get("general.type") != "adapter" or m.get("adapter.type") != "lora":
                raise GgufError(f"{path} is not a LoRA adapter (general.type {m.get('general.type')!r}, "
                                f"adapter.type {m.get('adapter.type')!r})")
            alpha = float(m.get("adapter.lora.alpha", 0.0))
            lora = Lora()
            for name in g.tensors:
                if not name.endswith(".lora_a"):
                    continue
                target = name[: -len(".lora_a")]
                if f"{target}.lora_b" not in g.tensors:
                    raise GgufError(f"{path}: {name} has no partner {target}.lora_b")
                a = torch.from_numpy(g.array(name))
                b = torch.from_numpy(g.array(f"{target}.lora_b"))
                rank = a.shape[0]
                if b.shape[1] != rank:
                    raise GgufError(f"{path}: {target}'s lora_a has rank {rank} and lora_b {b.shape[1]}")
                if base is not None:
                    w = base.weights.get(target)
                    if w is None or tuple(w.shape) != (b.shape[0], a.shape[1]):
                        raise GgufError(f"{path} adapts {target}, which the base lacks or has in another shape")
                # llama.cpp: alpha 0 means "no alpha", the scale alone.
                lora.pairs[target] = LoraPair(a, b, scale * alpha / rank if alpha else scale)
            if not lora.pairs:
                raise GgufError(f"{path} holds no lora_a/lora_b pair")
            return lora

    def to(self, dtype: torch.dtype) -> "Lora":
        return Lora({k: LoraPair(p.a.to(dtype), p.b.to(dtype), p.scale) for k, p in self.pairs.items()})


class LlamaModel:
    """The base weights (float32, frozen) and the forward pass; `lora` adds adapters' B·A to their targets' outputs."""

    def __init__(self, cfg: LlamaConfig, weights: dict[str, torch.Tensor], f16: frozenset[str] = frozenset()):
        self.cfg = cfg
        self.weights = weights
        # The weights stored in F16: ggml's CPU matmul rounds its F32 input to F16 for them (vec_dot_type F16) and
        # accumulates in F32. With ggml_f16_inputs set, _mm rounds the same way, so a check compares like with like.
        self.f16 = f16
        self.ggml_f16_inputs = False
        self.fault: str | None = None
        half = torch.arange(0, cfg.n_rot, 2, dtype=torch.float64) / cfg.n_rot
        # In the weights' dtype: float32 as loaded, float64 after .to(torch.float64).
        self._inv_freq = (cfg.rope_base**-half).to(weights["token_embd.weight"].dtype)  # (n_rot/2,)

    @staticmethod
    def from_gguf(path: str) -> "LlamaModel":
        with GgufFile(path) as g:
            cfg = LlamaConfig.from_gguf(g)
            expected: dict[str, tuple[int, ...]] = {
                "token_embd.weight": (cfg.n_vocab, cfg.n_embd),
                "output_norm.weight": (cfg.n_embd,),
            }
            kv = cfg.head_dim * cfg.n_head_kv
            for i in range(cfg.n_layer):
                b = f"blk.{i}."
                expected.update({
                    f"{b}attn_norm.weight": (cfg.n_embd,),
                    f"{b}attn_q.weight": (cfg.n_embd, cfg.n_embd),
                    f"{b}attn_k.weight": (kv, cfg.n_embd),
                    f"{b}attn_v.weight": (kv, cfg.n_embd),
                    f"{b}attn_output.weight": (cfg.n_embd, cfg.n_embd),
                    f"{b}ffn_norm.weight": (cfg.n_embd,),
                    f"{b}ffn_gate.weight": (cfg.n_ff, cfg.n_embd),
                    f"{b}ffn_up.weight": (cfg.n_ff, cfg.n_embd),
                    f"{b}ffn_down.weight": (cfg.n_embd, cfg.n_ff),
                })
            weights: dict[str, torch.Tensor] = {}
            for name, shape in expected.items():
                arr = g.array(name)
                if arr.shape != shape:
                    raise GgufError(f"{path}: {name} is {list(arr.shape)} (numpy order), expected {list(shape)}")
                weights[name] = torch.from_numpy(np.ascontiguousarray(arr))
            if "output.weight" in g.tensors:
                out = g.array("output.weight")
                if out.shape != (cfg.n_vocab, cfg.n_embd):
                    raise GgufError(f"{path}: output.weight is {list(out.shape)}, expected {[cfg.n_vocab, cfg.n_embd]}")
                weights["output.weight"] = torch.from_numpy(out)
            else:
                weights["output.weight"] = weights["token_embd.weight"]  # tied, as llama.cpp duplicates it
            # Biases llama.cpp would add: refused rather than ignored.
            biased = [n for n in g.tensors if n.endswith(".bias")]
            if biased:
                raise GgufError(f"{path} has bias tensors ({biased[0]} ...), which this trainer does not implement")
            f16 = frozenset(n for n in weights if g.tensors[n if n in g.tensors else "token_embd.weight"].type == 1)
            return LlamaModel(cfg, weights, f16)

    def to(self, dtype: torch.dtype) -> "LlamaModel":
        """The same model computing in `dtype` (float64: a reference free of float32 rounding)."""
        m = LlamaModel(self.cfg, {k: v.to(dtype) for k, v in self.weights.items()}, self.f16)
        m.fault, m.ggml_f16_inputs = self.fault, self.ggml_f16_inputs
        return m

    def _rms(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.fault == "no-rmsnorm":
            return x * w
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg.eps) * w

    def _rope(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """x: (B, T, heads, head_dim); pos: (T,)."""
        ang = pos.to(self._inv_freq.dtype)[:, None] * self._inv_freq[None, :]  # (T, n_rot/2)
        cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
        if self.fault == "neox-rope":
            half = x.shape[-1] // 2
            x0, x1 = x[..., :half], x[..., half:]
            return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)

    def _mm(self, x: torch.Tensor, name: str, lora: Lora | None) -> torch.Tensor:
        xw = x.to(torch.float16).to(x.dtype) if self.ggml_f16_inputs and name in self.f16 else x
        y = xw @ self.weights[name].T
        if lora is not None:
            p = lora.pairs.get(name)
            if p is not None:
                y = y + p.scale * ((x @ p.a.T) @ p.b.T)
        return y

    def forward(self, tokens: torch.Tensor, lora: Lora | None = None) -> torch.Tensor:
        """tokens: (B, T) int64 -> logits (B, T, n_vocab) in the weights' dtype; position t sees tokens 0..t."""
        cfg, w = self.cfg, self.weights
        bsz, n = tokens.shape
        hd, group = cfg.head_dim, cfg.n_head // cfg.n_head_kv
        pos = torch.arange(n)
        dtype = self._inv_freq.dtype
        mask = torch.full((n, n), float("-inf"), dtype=dtype).triu(1)
        if self.fault == "no-causal-mask":
            mask = torch.zeros((n, n), dtype=dtype)
        x = w["token_embd.weight"][tokens]
        for i in range(cfg.n_layer):
            b = f"blk.{i}."
            h = self._rms(x, w[f"{b}attn_norm.weight"])
            q = self._rope(self._mm(h, f"{b}attn_q.weight", lora).view(bsz, n, cfg.n_head, hd), pos)
            k = self._rope(self._mm(h, f"{b}attn_k.weight", lora).view(bsz, n, cfg.n_head_kv, hd), pos)
            v = self._mm(h, f"{b}attn_v.weight", lora).view(bsz, n, cfg.n_head_kv, hd)
            # GQA as ggml broadcasts it: query head j reads KV head j // group.
            k = k.repeat_interleave(group, dim=2)
            v = v.repeat_interleave(group, dim=2)
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, heads, T, hd)
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)) + mask
            o = (att.softmax(-1) @ v).transpose(1, 2).reshape(bsz, n, cfg.n_embd)
            x = x + self._mm(o, f"{b}attn_output.weight", lora)
            h = self._rms(x, w[f"{b}ffn_norm.weight"])
            gate = torch.nn.functional.silu(self._mm(h, f"{b}ffn_gate.weight", lora))
            x = x + self._mm(gate * self._mm(h, f"{b}ffn_up.weight", lora), f"{b}ffn_down.weight", lora)
        return self._mm(self._rms(x, w["output_norm.weight"]), "output.weight", None)
