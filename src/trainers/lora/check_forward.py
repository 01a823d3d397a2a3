"""Checks the torch forward pass (llama_torch.py) against llama.cpp: the logits src/tools/engine-logits.ts printed for a
few texts, from the same GGUF (and the same LoRA adapter, if any), must agree within a tolerance relative to the
logits' scale:

    max |torch - engine| <= rtol * max |engine|        over every position and every token the reference holds

The reference carries the engine's token ids, so no tokenizer is needed here.

    /usr/bin/python3 check_forward.py --model M.gguf --reference ref.json [--lora A.gguf [--lora-scale S]] [--rtol R]

The default tolerance depends on how the engine computed the reference (its "precision", RTOL below).

Prints one JSON line {"ok","max_abs_diff","logit_scale","relative","rtol","precision",
"positions","texts"} and exits 0 when within
the tolerance, 1 when off (saying by how much, and where), 2 on bad usage or an unreadable model or reference.
--fault (no-rmsnorm, neox-rope, no-causal-mask) computes a deliberately wrong forward: the check's own negative test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from gguf_reader import GgufError  # noqa: E402
from llama_torch import FAULTS, LlamaModel, Lora  # noqa: E402

# Tolerances by the reference's precision (engine-logits.ts), relative to the logits' scale. Measured (docs/jobs.md,
# "The LoRA trainer"), torch in float64 against the engine, worst of 3 texts (122 positions):
#   exact  (F32 K/V, no flash attention): demo 2e-7, demo + LoRA 2e-7, bench 4e-6, bench + LoRA 3e-5;
#   served (flash attention, F16 K/V):    demo 9e-4, demo + LoRA 1e-3, bench 3e-3, bench + LoRA 2e-2.
# The random-weight models amplify rounding (bench + LoRA: torch float32 vs float64 alone differ by 1e-4), the served
# mode's F16 K/V most. Each tolerance is >= 2x the worst measured; the faults in FAULTS are off by 0.2..1.5 of the
# scale, 200x the exact tolerance (the trainer's check) and 4x the served one.
RTOL = {"exact": 1e-3, "served": 5e-2}
# With F16 weights ggml rounds each matmul's input to F16 (emulated here, ggml_f16_inputs) and still differs more:
# exact measured 3e-4 (demo) and 1.2e-3 (bench); 1e-2 keeps a margin and stays 20x below the faults.
RTOL_F16 = {"exact": 1e-2, "served": 5e-2}


def compare(model: LlamaModel, ref: dict, lora: Lora | None) -> dict:
    worst = {"diff": 0.0, "text": None, "position": None, "token": None}
    scale = 0.0
    positions = 0
    # The caller's thread count stands (train.py's --threads): a compare mid-run must not change it.
    with torch.no_grad():
        for ti, t in enumerate(ref["texts"]):
            tokens = torch.tensor([t["tokens"]], dtype=torch.int64)
            if int(tokens.max()) >= model.cfg.n_vocab or int(tokens.min()) < 0:
                raise ValueError(f"text {ti} has token ids outside the model's vocabulary of {model.cfg.n_vocab}")
            logits = model.forward(tokens, lora)[0, t["first"] :]
            want = torch.tensor(t["logits"], dtype=logits.dtype)
            if want.shape != logits.shape:
                raise ValueError(f"text {ti}: the reference holds logits {list(want.shape)}, torch computed {list(logits.shape)}")
            diff = (logits - want).abs()
            scale = max(scale, float(want.abs().max()))
            positions += want.shape[0]
            d = float(diff.max())
            if d > worst["diff"] or d != d:
                at = int(diff.argmax())
                worst = {"diff": d, "text": ti, "position": t["first"] + at // want.shape[1], "token": at % want.shape[1]}
    return {"worst": worst, "scale": scale, "positions": positions}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--reference", required=True, help="engine-logits.ts's JSON")
    p.add_argument("--lora", help="a LoRA adapter GGUF, applied as the reference's engine applied it")
    p.add_argument("--lora-scale", type=float, default=1.0)
    p.add_argument("--rtol", type=float, help="the tolerance (default: by the reference's precision, RTOL)")
    p.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="torch's precision for the check (float64: the difference is the engine's own rounding alone)",
    )
    p.add_argument("--fault", choices=FAULTS, help="compute a deliberately wrong forward (negative tests)")
    a = p.parse_args()
    try:
        with open(a.reference, encoding="utf-8") as f:
            ref = json.load(f)
        # The reference says what the engine ran: a check with another adapter (or none) would compare two models.
        ref_lora = ref.get("lora")
        if (ref_lora is None) != (a.lora is None) or (
            a.lora is not None and (os.path.basename(a.lora) != ref_lora or a.lora_scale != ref.get("loraScale"))
        ):
            print(
                f"the reference was computed with adapter {ref_lora!r} at scale {ref.get('loraScale')!r}, this check "
                f"has {a.lora and os.path.basename(a.lora)!r} at {a.lora_scale if a.lora else None!r}",
                file=sys.stderr,
            )
            return 2
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        model = LlamaModel.from_gguf(a.model)
        model.fault = a.fault
        # F16 weights: round the matmuls' inputs to F16 as ggml's CPU kernels do (the engine's rounding, not ours).
        model.ggml_f16_inputs = True
        lora = Lora.from_gguf(a.lora, a.lora_scale, model) if a.lora else None
        dtype = getattr(torch, a.dtype)
        model, lora = model.to(dtype), lora and lora.to(dtype)
        if ref.get("vocab") != model.cfg.n_vocab:
            raise ValueError(f"the reference has {ref.get('vocab')} logits per position, the model {model.cfg.n_vocab}")
        precision = ref.get("precision")
        if a.rtol is None and precision not in RTOL:
            raise ValueError(f"the reference's precision is {precision!r}, not one of {', '.join(RTOL)}")
        weights = "F16" if model.f16 else "F32"
        rtol = a.rtol if a.rtol is not None else (RTOL_F16 if model.f16 else RTOL)[precision]
        r = compare(model, ref, lora)
    except (OSError, ValueError, KeyError, GgufError) as e:
        print(f"check_forward: {e}", file=sys.stderr)
        return 2
    w = r["worst"]
    relative = w["diff"] / r["scale"] if r["scale"] > 0 else float("inf")
    ok = relative <= rtol  # NaN compares false: a NaN logit is off
    print(json.dumps({
        "ok": ok,
        "max_abs_diff": w["diff"],
        "logit_scale": r["scale"],
        "relative": relative,
        "rtol": rtol,
        "precision": precision,
        "dtype": a.dtype,
        "weights": weights,
        "positions": r["positions"],
        "texts": len(ref["texts"]),
        **({"fault": a.fault} if a.fault else {}),
    }))
    if not ok:
        print(
            f"the torch forward is off: max |torch - llama.cpp| = {w['diff']:.3g} at text {w['text']}, position "
            f"{w['position']}, token {w['token']}; that is {relative:.3g} of the logits' scale {r['scale']:.3g}, over "
            f"the tolerance {rtol:g} ({relative / rtol:.3g}x)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
