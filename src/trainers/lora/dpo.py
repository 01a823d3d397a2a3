"""DPO's pieces for train.py (docs/jobs.md, "The LoRA trainer"): preference pairs as token ids scored as MOC's
`evaluate` scores them, each answer's summed log-probability, and the DPO loss.

An answer is scored after its prompt as actors/device/engine-core.ts scores it (EngineCore.evaluate, scoredFrom):
BOS + the tokens of prompt + answer (the two strings joined with nothing between them, no chat template), summed over
the tokens from the first one that differs from the prompt's own tokens (BOS included) on, never the BOS. So the
log-probabilities DPO moves are the ones `evaluate` compares for preference_accuracy and reward_margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from llama_torch import Lora, LlamaModel
from tokenizer import Tokenizer


@dataclass
class Scored:
    """One answer after its prompt: the ids of BOS + prompt + answer and the first scored position."""

    ids: list[int]
    start: int


@dataclass
class Pair:
    chosen: Scored
    rejected: Scored


def scored(tok: Tokenizer, prompt: str, answer: str) -> Scored:
    ids = tok.encode(prompt + answer)
    if prompt == "":
        return Scored(ids, 1)
    pre = tok.encode(prompt)
    k = 0
    while k < len(pre) and k < len(ids) and pre[k] == ids[k]:
        k += 1
    return Scored(ids, max(1, k))


def encode_pairs(tok: Tokenizer, pairs: list[tuple[str, str, str]], limit: int) -> tuple[list[Pair], int, int]:
    """The pairs both of whose answers fit the context and have a token to score; also how many were too long and
    how many had an answer with no token to score (both dropped: evaluate refuses the first and fails on the second)."""
    out, long, empty = [], 0, 0
    for prompt, chosen, rejected in pairs:
        c, r = scored(tok, prompt, chosen), scored(tok, prompt, rejected)
        if len(c.ids) > limit or len(r.ids) > limit:
            long += 1
        elif c.start >= len(c.ids) or r.start >= len(r.ids):
            empty += 1
        else:
            out.append(Pair(c, r))
    return out, long, empty


def answer_logps(model: LlamaModel, lora: Lora | None, answers: list[Scored]) -> torch.Tensor:
    """(len(answers),): each answer's sum of ln p(token | what precedes it) over its scored tokens, in one batch
    (right-padded; the causal mask keeps the padding out of real positions)."""
    n = max(len(s.ids) for s in answers)
    inputs = torch.zeros((len(answers), n), dtype=torch.int64)
    targets = torch.zeros((len(answers), n), dtype=torch.int64)
    scoredmask = torch.zeros((len(answers), n), dtype=torch.bool)
    for i, s in enumerate(answers):
        inputs[i, : len(s.ids)] = torch.tensor(s.ids)
        # Position t predicts token t+1: the scored tokens start..end-1 are predicted at start-1..end-2.
        targets[i, : len(s.ids) - 1] = torch.tensor(s.ids[1:])
        scoredmask[i, s.start - 1 : len(s.ids) - 1] = True
    logp = torch.log_softmax(model.forward(inputs, lora), dim=-1)
    per_token = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (per_token * scoredmask.to(per_token.dtype)).sum(-1)


def pair_logps(model: LlamaModel, lora: Lora | None, pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
    """ln p(chosen | prompt) and ln p(rejected | prompt) of each pair, both answers of every pair in one forward."""
    both = answer_logps(model, lora, [p.chosen for p in pairs] + [p.rejected for p in pairs])
    return both[: len(pairs)], both[len(pairs) :]


def dpo_loss(
    beta: float, pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """DPO's mean loss -log sigmoid(beta * ((pc - rc) - (pr - rr))) and the batch's figures: reward_accuracy (the share
    of pairs whose chosen reward beta * (pc - rc) is strictly above the rejected one's), reward_margin (the mean
    difference of the two rewards), chosen_reward and rejected_reward (their means)."""
    chosen, rejected = beta * (pc - rc), beta * (pr - rr)
    loss = -torch.nn.functional.logsigmoid(chosen - rejected).mean()
    with torch.no_grad():
        figures = {
            "reward_accuracy": float((chosen > rejected).to(torch.float64).mean()),
            "reward_margin": float((chosen - rejected).mean()),
            "chosen_reward": float(chosen.mean()),
            "rejected_reward": float(rejected.mean()),
        }
    return loss, figures
