"""The limit perf/train.ts holds the lora trainer against: a bare torch training loop of the same model, LoRA and
optimizer at the same batch/sequence shape, with nothing of the trainer around it.

    /usr/bin/python3 -B perf/lib/torch_bare_loop.py --base B.gguf --batch 8 --seq 64 --rank 8 --alpha 16
        [--lr 1e-3] [--threads 2] [--seconds 10] [--min-steps 1]

Each step is what any training step must do, and only that: forward (llama_torch.py, the trainer's own model code),
cross-entropy, zero_grad, backward, AdamW step on the LoRA pairs (train.new_lora: the same targets, init and shapes).
Not in it: the trainer's per-step batching of token lists into tensors (the inputs are made once here), its loss
checks, its JSON lines, its stop checks. The first step is a warm-up (torch's first allocations) and is not timed;
the loop runs until --seconds have passed and --min-steps timed steps are done. Prints one JSON line: startup_s
(spawn to the first timed step: torch import, model read, warm-up), steps, tokens (batch x (seq - 1) per step: the
predicted tokens, as the trainer counts them), wall_s, cpu_s (this process, every thread).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

T0 = time.monotonic()
CPU0 = time.process_time()

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src", "trainers", "lora"))

import torch  # noqa: E402

from llama_torch import LlamaModel  # noqa: E402
from train import new_lora  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=64, help="tokens per sequence, the BOS included")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--min-steps", type=int, default=1, help="timed steps at least, however long they take")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = LlamaModel.from_gguf(a.base)
    for w in model.weights.values():
        w.requires_grad_(False)
    lora = new_lora(model, a.rank, a.alpha)
    opt = torch.optim.AdamW([t for q in lora.pairs.values() for t in (q.a, q.b)], lr=a.lr, weight_decay=0.0)
    # Token ids do not change the work: every sequence is full length, as the trainer's are in perf/train.ts.
    ids = torch.randint(0, model.cfg.n_vocab, (a.batch, a.seq), generator=torch.Generator().manual_seed(a.seed))
    inputs, targets = ids, torch.cat([ids[:, 1:], torch.full((a.batch, 1), -100)], dim=1)

    def step() -> None:
        logits = model.forward(inputs, lora)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                 ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    started, cpu_started = time.monotonic(), time.process_time()
    steps = 0
    while steps < a.min_steps or time.monotonic() - started < a.seconds:
        step()
        steps += 1
    wall, cpu = time.monotonic() - started, time.process_time() - cpu_started
    tokens = steps * a.batch * (a.seq - 1)
    print(json.dumps({
        "startup_s": started - T0,
        "startup_cpu_s": cpu_started - CPU0,
        "steps": steps,
        "tokens": tokens,
        "wall_s": wall,
        "cpu_s": cpu,
        "threads": a.threads,
        "n_params_lora": sum(t.numel() for q in lora.pairs.values() for t in (q.a, q.b)),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
