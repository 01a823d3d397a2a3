"""MOC's built-in `lora` trainer (docs/jobs.md, "The LoRA trainer"): supervised fine-tuning (SFT) or DPO of a LoRA
adapter on a llama GGUF, speaking MOC's trainer protocol (JSON lines on stdout: progress, metric, log, output kind
"lora").

    /usr/bin/python3 -B train.py --base B.gguf --data D.jsonl --out O.gguf [--method sft|dpo] [--rank 8] [--alpha 16]
        [--lr 1e-3] [--epochs 3] [--batch 8] [--seed 1] [--beta 0.1] [--eval E.jsonl]
        [--engine-logits '["node", ..., "x.ts"]']

- The base's weights are frozen (float32, from gguf_reader); LoRA pairs on attn_q, attn_k, attn_v and attn_output of
  every layer, A random (PEFT's kaiming-uniform, bound 1/sqrt(in)) and B zero, so training starts from the base
  exactly; llama.cpp's scale alpha / rank. AdamW (no weight decay); texts or pairs shuffled each epoch (seeded).
- sft: next-token cross-entropy over each {"text"} (what prepare-dataset writes for texts), with the BOS the engine
  puts first, as MOC's `evaluate` scores a text.
- dpo: {"prompt","chosen","rejected"} pairs (what export-feedback writes as trl-preference). Each answer's
  log-probability is scored as MOC's `evaluate` scores a pair: BOS + the tokens of prompt + answer joined as plain
  strings, summed over the tokens after the prompt's (the longest common prefix with the prompt's own tokens). The
  reference model is the frozen base (the adapter off), scored once before training; the loss is DPO's
  -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))).
- The ids come from tokenizer.py, which reproduces llama.cpp's for the vocabularies MOC generates and refuses others.
- With --engine-logits (the argv of src/tools/engine-logits.ts; the built-in trainer's template passes it), the
  torch forward is checked against llama.cpp before training (base) and the written adapter after (the engine with
  the adapter against torch with the same file), both on the first texts of the data (prompt + chosen for dpo), with check_forward.py's
  tolerance, and the tokenizer's ids against the engine's. Off: the run fails, nothing is written.
- The adapter is written atomically (temp file, checked, renamed) and reported last.
- SIGTERM/SIGINT, or end-of-file on a stdin pipe (the coordinator gone): stops at the next step (or while a check
  runs), writes nothing, exits 143. A NaN/inf loss, or a loss over DIVERGED x the first epoch's mean (the first step's
  during the first epoch), fails: exit 1 with a stderr line saying why. Bad usage or input: exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from check_forward import RTOL, RTOL_F16, compare  # noqa: E402
from dpo import Pair, dpo_loss, encode_pairs, pair_logps  # noqa: E402
from gguf_reader import GgufError, GgufFile  # noqa: E402
from gguf_writer import adapter_bytes, write_atomically  # noqa: E402
from llama_torch import LORA_TARGETS, LlamaModel, Lora, LoraPair  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402

DIVERGED = 3.0
CHECK_TEXTS = 2
CHECK_CHARS = 200
EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 1, 2, 128 + signal.SIGTERM


class Failed(Exception):
    """The run fails: exit 1, the message on stderr."""


class Usage(Exception):
    """Bad arguments or input: exit 2."""


class Stopped(Exception):
    """Asked to stop: exit 143, nothing written."""


class Stop:
    """Set by SIGTERM/SIGINT or by the end of a stdin pipe; checked between steps."""

    def __init__(self) -> None:
        self.reason: str | None = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda s, _f: self.set(f"stopped by {signal.Signals(s).name}"))
        # Only a pipe: a terminal or /dev/null (a trainer run by hand) is no coordinator whose end means stop.
        if stat.S_ISFIFO(os.fstat(0).st_mode):
            threading.Thread(target=self._watch_stdin, daemon=True).start()

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason

    def _watch_stdin(self) -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        self.set("stopped: stdin closed (the coordinator is gone)")

    def check(self) -> None:
        if self.reason:
            raise Stopped(self.reason)


def emit(**line) -> None:
    print(json.dumps(line), flush=True)


def log(message: str) -> None:
    emit(type="log", message=message)


def read_jsonl(path: str):
    """(line number, object) of each non-blank line; Usage on a line that is not JSON."""
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise Usage(f"cannot read the dataset {path}: {e.strerror}") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise Usage(f"{path} line {n}: not JSON ({e.msg})") from None


def read_texts(path: str, method: str) -> list[str]:
    texts = []
    for n, o in read_jsonl(path):
        if isinstance(o, dict) and isinstance(o.get("text"), str) and o["text"].strip():
            texts.append(o["text"])
        elif isinstance(o, dict) and "prompt" in o and "chosen" in o:
            raise Usage(f"{path} line {n} is a preference pair; method {method} trains on texts ({{\"text\"}}): "
                        "use method dpo")
        else:
            raise Usage(f'{path} line {n}: expected {{"text": "..."}} with a non-empty text')
    if not texts:
        raise Usage(f"{path} has no texts")
    return texts


def read_pairs(path: str) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected): the prompt a string (it may be empty), the answers non-empty, as evaluate reads them."""
    pairs = []
    for n, o in read_jsonl(path):
        if isinstance(o, dict) and "text" in o and "prompt" not in o:
            raise Usage(f'{path} line {n} is a text; method dpo trains on pairs {{"prompt","chosen","rejected"}}: '
                        "use method sft")
        if not (isinstance(o, dict) and isinstance(o.get("prompt"), str) and all(
                isinstance(o.get(k), str) and o[k].strip() for k in ("chosen", "rejected"))):
            raise Usage(f'{path} line {n}: expected {{"prompt": "...", "chosen": "...", "rejected": "..."}} with '
                        "non-empty answers")
        pairs.append((o["prompt"], o["chosen"], o["rejected"]))
    if not pairs:
        raise Usage(f"{path} has no pairs")
    return pairs


def encode_all(tok: Tokenizer, texts: list[str], limit: int, what: str) -> list[list[int]]:
    seqs, cut = [], 0
    for t in texts:
        ids = tok.encode(t)
        if len(ids) > limit:
            ids, cut = ids[:limit], cut + 1
        if len(ids) >= 2:
            seqs.append(ids)
    if cut:
        log(f"{cut} texts of {what} cut to the model's context of {limit} tokens")
    if not seqs:
        raise Usage(f"{what}: no text has a token to predict (each is one token)")
    return seqs


def batch_of(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded inputs and targets (-100: not scored); causal attention keeps padding out of real positions."""
    n = max(len(s) for s in seqs)
    inputs = torch.zeros((len(seqs), n), dtype=torch.int64)
    targets = torch.full((len(seqs), n), -100, dtype=torch.int64)
    for i, s in enumerate(seqs):
        inputs[i, : len(s)] = torch.tensor(s)
        targets[i, : len(s) - 1] = torch.tensor(s[1:])
    return inputs, targets


def loss_of(model: LlamaModel, lora: Lora, seqs: list[list[int]], reduction: str = "mean") -> torch.Tensor:
    inputs, targets = batch_of(seqs)
    logits = model.forward(inputs, lora)
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction=reduction
    )


def evaluate(model: LlamaModel, lora: Lora, seqs: list[list[int]], batch: int) -> float:
    """Mean next-token loss per token (its exp is the perplexity MOC's evaluate reports)."""
    total, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(seqs), batch):
            part = seqs[i : i + batch]
            total += float(loss_of(model, lora, part, "sum"))
            tokens += sum(len(s) - 1 for s in part)
    return total / tokens


def new_lora(model: LlamaModel, rank: int, alpha: float) -> Lora:
    lora = Lora()
    for i in range(model.cfg.n_layer):
        for t in LORA_TARGETS:
            name = f"blk.{i}.{t}.weight"
            out_dim, in_dim = model.weights[name].shape
            a = torch.empty((rank, in_dim))
            torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))  # PEFT's init of lora_A: U(±1/sqrt(in))
            lora.pairs[name] = LoraPair(a.requires_grad_(), torch.zeros((out_dim, rank), requires_grad=True), alpha / rank)
    return lora


class EngineCheck:
    """The torch forward (and the adapter) against llama.cpp, through engine-logits.ts (its argv given)."""

    def __init__(self, argv: list[str], base: str, model: LlamaModel, tok: Tokenizer, texts: list[str], stop: Stop):
        self.argv, self.base, self.tok, self.stop = argv, base, tok, stop
        self.texts = [t[:CHECK_CHARS] for t in texts[:CHECK_TEXTS]]
        self.model = model.to(torch.float64)
        self.model.ggml_f16_inputs = True  # as check_forward: ggml's own rounding of F16 weights' inputs
        self.rtol = (RTOL_F16 if model.f16 else RTOL)["exact"]

    def start(self, lora_path: str | None, what: str) -> "EngineRun":
        return EngineRun(self, lora_path, what)


class EngineRun:
    """One engine-logits run, started at once; result() waits for it (stopping it on a stop) and compares."""

    def __init__(self, check: EngineCheck, lora_path: str | None, what: str):
        self.check, self.lora_path, self.what = check, lora_path, what
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        argv = [*check.argv, "--model", check.base, *(["--lora", lora_path] if lora_path else []), *check.texts]
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err)

    def done(self) -> bool:
        return self.p.poll() is not None

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.out.close()
        self.err.close()

    def result(self) -> float:
        """The worst difference relative to the logits' scale; Failed when over the tolerance, Stopped on a stop."""
        try:
            while self.p.poll() is None:
                self.check.stop.check()
                try:
                    self.p.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            self.out.seek(0)
            self.err.seek(0)
            if self.p.returncode != 0:
                last = (self.err.read().decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
                raise Failed(f"{self.what}: engine-logits exited {self.p.returncode}: {last}")
            ref = json.loads(self.out.read())
        finally:
            self.kill()
        check, what = self.check, self.what
        for i, t in enumerate(ref["texts"]):
            mine = check.tok.encode(t["text"])
            if mine != t["tokens"]:
                raise Failed(f"{what}: the tokenizer gives {mine[:12]}... for text {i}, llama.cpp {t['tokens'][:12]}...")
        lora = Lora.from_gguf(self.lora_path, 1.0, check.model).to(torch.float64) if self.lora_path else None
        r = compare(check.model, ref, lora)
        relative = r["worst"]["diff"] / r["scale"] if r["scale"] > 0 else float("inf")
        if not relative <= check.rtol:
            raise Failed(
                f"{what}: torch and llama.cpp disagree: max |diff| {r['worst']['diff']:.3g} is {relative:.3g} of the "
                f"logits' scale, over the tolerance {check.rtol:g}"
            )
        log(f"{what}: torch matches llama.cpp within {relative:.2g} of the logits' scale (tolerance {check.rtol:g}, "
            f"{r['positions']} positions)")
        emit(type="metric", name=f"check_{'adapter' if self.lora_path else 'base'}_relative", value=relative)
        return relative


class Sft:
    """Next-token loss over texts; with an eval set, its loss and perplexity before training and after each epoch."""

    def __init__(self, model: LlamaModel, seqs: list[list[int]], eval_seqs: list[list[int]], batch: int):
        self.model, self.items, self.eval_seqs, self.batch = model, seqs, eval_seqs, batch
        self.base_eval = 0.0

    def step(self, lora: Lora, part: list[list[int]]) -> tuple[torch.Tensor, dict[str, float], int]:
        return loss_of(self.model, lora, part), {}, sum(len(s) - 1 for s in part)

    def evaluate(self, lora: Lora, epoch: int) -> str:
        if not self.eval_seqs:
            return ""
        ev = evaluate(self.model, lora, self.eval_seqs, self.batch)
        emit(type="metric", name="eval_loss", value=ev, step=epoch)
        if epoch == 0:  # B = 0: the base's own loss
            self.base_eval = ev
            return ""
        emit(type="metric", name="eval_perplexity", value=math.exp(ev), step=epoch)
        return f", eval loss {ev:.4f} (perplexity {math.exp(ev):.3f}; the base's {math.exp(self.base_eval):.3f})"


class Dpo:
    """DPO on preference pairs against the frozen base, whose log-probabilities are computed once, before training;
    with an eval set of pairs, its preference_accuracy and reward_margin as `evaluate` computes them (the adapter's
    log-probabilities alone, chosen against rejected)."""

    def __init__(self, model: LlamaModel, pairs: list[Pair], eval_pairs: list[Pair], batch: int, beta: float,
                 stop: Stop):
        self.model, self.eval_pairs, self.batch, self.beta = model, eval_pairs, batch, beta
        refs = []
        with torch.no_grad():
            for i in range(0, len(pairs), batch):
                stop.check()
                rc, rr = pair_logps(model, None, pairs[i : i + batch])
                refs.extend(zip(rc.tolist(), rr.tolist()))
        self.items = [(p, rc, rr) for p, (rc, rr) in zip(pairs, refs)]
        self.base_accuracy = 0.0

    def step(self, lora: Lora, part: list) -> tuple[torch.Tensor, dict[str, float], int]:
        pc, pr = pair_logps(self.model, lora, [p for p, _, _ in part])
        rc = torch.tensor([x for _, x, _ in part], dtype=pc.dtype)
        rr = torch.tensor([x for _, _, x in part], dtype=pc.dtype)
        loss, figures = dpo_loss(self.beta, pc, pr, rc, rr)
        return loss, figures, sum(len(p.chosen.ids) + len(p.rejected.ids) - 2 for p, _, _ in part)

    def evaluate(self, lora: Lora, epoch: int) -> str:
        if not self.eval_pairs:
            return ""
        wins, margin = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(self.eval_pairs), self.batch):
                pc, pr = pair_logps(self.model, lora, self.eval_pairs[i : i + self.batch])
                wins += int((pc > pr).sum())
                margin += float((pc - pr).sum())
        n = len(self.eval_pairs)
        emit(type="metric", name="eval_preference_accuracy", value=wins / n, step=epoch)
        emit(type="metric", name="eval_reward_margin", value=margin / n, step=epoch)
        if epoch == 0:
            self.base_accuracy = wins / n
            return ""
        return f", eval preference accuracy {wins / n:.3f} (the base's {self.base_accuracy:.3f}), margin {margin / n:.3f}"


def train(a: argparse.Namespace, stop: Stop) -> None:
    if a.method not in ("sft", "dpo"):
        raise Usage(f"method {a.method!r} is not one of sft, dpo")
    for name, v, ok in (("rank", a.rank, a.rank >= 1), ("alpha", a.alpha, a.alpha > 0), ("lr", a.lr, a.lr > 0),
                        ("epochs", a.epochs, a.epochs >= 1), ("batch", a.batch, a.batch >= 1),
                        ("beta", a.beta, a.beta > 0)):
        if not ok or not math.isfinite(v):
            raise Usage(f"--{name} {v} is out of range")
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    started = time.monotonic()
    if a.method == "sft":
        texts = read_texts(a.data, a.method)
        eval_texts = read_texts(a.eval, a.method) if a.eval else []
    else:
        raw_pairs = read_pairs(a.data)
        raw_eval = read_pairs(a.eval) if a.eval else []
        # What the engine checks: the first pairs' prompt + chosen, as evaluate joins them.
        texts = [p + c for p, c, _ in raw_pairs]
    try:
        model = LlamaModel.from_gguf(a.base)
        with GgufFile(a.base) as g:
            tok = Tokenizer(g)
            arch = g.metadata["general.architecture"]
            base_name = g.metadata.get("general.name") or os.path.basename(a.base)
    except GgufError as e:
        raise Usage(str(e)) from None
    for w in model.weights.values():
        w.requires_grad_(False)
    limit = model.cfg.context_length
    check = EngineCheck(json.loads(a.engine_logits), a.base, model, tok, texts, stop) if a.engine_logits else None
    # The base's check runs while training starts (the engine's start-up is seconds): its answer is taken as soon as
    # it is in, between steps, and a forward that is off fails the run there, before anything is written.
    base_check = check.start(None, "the base") if check else None
    if not check:
        log("no --engine-logits: the forward and the adapter are not checked against llama.cpp")
    try:
        if a.method == "sft":
            seqs = encode_all(tok, texts, limit, "the dataset")
            eval_seqs = encode_all(tok, eval_texts, limit, "the eval set") if eval_texts else []
            n_tokens = sum(len(s) - 1 for s in seqs)
            log(f"{len(seqs)} texts ({n_tokens} tokens to predict), {len(eval_seqs)} eval texts; rank {a.rank}, "
                f"alpha {a.alpha:g}, lr {a.lr:g}, {a.epochs} epochs, batch {a.batch}")
            objective: Sft | Dpo = Sft(model, seqs, eval_seqs, a.batch)
        else:
            pairs = encode_dpo_pairs(tok, raw_pairs, limit, "the dataset")
            eval_pairs = encode_dpo_pairs(tok, raw_eval, limit, "the eval set") if raw_eval else []
            log(f"{len(pairs)} pairs, {len(eval_pairs)} eval pairs; beta {a.beta:g}, rank {a.rank}, alpha "
                f"{a.alpha:g}, lr {a.lr:g}, {a.epochs} epochs, batch {a.batch} pairs")
            objective = Dpo(model, pairs, eval_pairs, a.batch, a.beta, stop)
        fit(a, stop, model, arch, base_name, objective, check, base_check, started)
    finally:
        if base_check:
            base_check.kill()


def encode_dpo_pairs(tok: Tokenizer, raw: list[tuple[str, str, str]], limit: int, what: str) -> list[Pair]:
    pairs, long, empty = encode_pairs(tok, raw, limit)
    if long:
        log(f"{long} pairs of {what} left out: prompt + answer is over the model's context of {limit} tokens")
    if empty:
        log(f"{empty} pairs of {what} left out: an answer has no token to score after its prompt")
    if not pairs:
        raise Usage(f"{what}: no pair can be trained on (each is too long or has an answer with no token)")
    return pairs


def fit(
    a: argparse.Namespace, stop: Stop, model: LlamaModel, arch: str, base_name: str, objective: Sft | Dpo,
    check: EngineCheck | None, base_check: EngineRun | None, started: float,
) -> None:
    """Trains the adapter, then writes it (checked against the engine before the rename) and reports it."""
    lora = new_lora(model, a.rank, a.alpha)
    params = [t for p in lora.pairs.values() for t in (p.a, p.b)]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(a.seed)
    items = objective.items
    steps_per_epoch = -(-len(items) // a.batch)
    total = steps_per_epoch * a.epochs
    objective.evaluate(lora, 0)  # B = 0: the base's figures
    reference: float | None = None  # the first epoch's mean loss, once known; its first step's until then
    step, trained = 0, 0
    train_started = time.monotonic()
    for epoch in range(a.epochs):
        order = torch.randperm(len(items), generator=gen).tolist()
        losses = []
        for i in range(0, len(order), a.batch):
            stop.check()
            if base_check and base_check.done():
                base_check.result()
                base_check = None
            part = [items[j] for j in order[i : i + a.batch]]
            loss, figures, tokens = objective.step(lora, part)
            value = float(loss)
            step += 1
            if not math.isfinite(value):
                raise Failed(f"the loss is {value} at step {step} (epoch {epoch + 1}): lr {a.lr:g} is too high?")
            ref = reference if reference is not None else (losses[0] if losses else value)
            if value > DIVERGED * ref:
                raise Failed(f"the loss diverged: {value:.4g} at step {step} is over {DIVERGED:g}x the first epoch's "
                             f"{ref:.4g} (lr {a.lr:g} is too high?)")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(value)
            trained += tokens
            emit(type="metric", name="loss", value=value, step=step)
            for name, v in figures.items():
                emit(type="metric", name=name, value=v, step=step)
            emit(type="progress", fraction=0.9 * step / total, message=f"epoch {epoch + 1}/{a.epochs}, step {step}/{total}")
        mean = sum(losses) / len(losses)
        if reference is None:
            reference = mean
        emit(type="metric", name="epoch_loss", value=mean, step=epoch + 1)
        log(f"epoch {epoch + 1}: loss {mean:.4f}{objective.evaluate(lora, epoch + 1)}")
    seconds = time.monotonic() - train_started
    emit(type="metric", name="tokens_per_s", value=trained / max(seconds, 1e-9))
    if base_check:
        base_check.result()
    stop.check()

    pairs = {k: (p.a.detach().numpy(), p.b.detach().numpy()) for k, p in lora.pairs.items()}
    data = adapter_bytes(arch, f"{base_name}-lora-{a.method}", a.alpha, pairs)

    def checked(tmp: str) -> None:
        stop.check()
        if check:
            emit(type="progress", fraction=0.95, message="checking the adapter against llama.cpp")
            check.start(tmp, "the adapter").result()
        stop.check()

    out = write_atomically(os.path.abspath(a.out), data, checked)
    log(f"wrote {out} ({len(data)} bytes, {len(pairs)} adapted tensors) in {time.monotonic() - started:.1f} s "
        f"({seconds:.1f} s training, {trained / max(seconds, 1e-9):.0f} tokens/s)")
    emit(type="progress", fraction=1.0, message="done")
    emit(type="output", path=out, kind="lora")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--method", default="sft")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--beta", type=float, default=0.1, help="dpo: the strength of the pull towards the reference")
    p.add_argument("--eval", help="a JSONL of the data's kind whose figures are reported after each epoch")
    p.add_argument("--engine-logits", help="JSON argv of engine-logits.ts: check torch against llama.cpp")
    a = p.parse_args()
    stop = Stop()
    try:
        train(a, stop)
    except Stopped as e:
        print(f"{e}; nothing written", file=sys.stderr)
        return EXIT_STOPPED
    except Usage as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except (Failed, GgufError, OSError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
