"""The tokenizer of the models MOC generates (src/model/demo-model.ts vocabulary()), reproducing llama.cpp's token ids
for them exactly, so the trainer trains on the ids the engine evaluates. Python has no llama.cpp tokenizer; this one
handles one vocabulary shape and refuses every other by name:

    tokenizer.ggml.model "llama" (SentencePiece), whose NORMAL tokens are single characters or "▁" + one character
    other than "▁", plus the 256 byte tokens <0x00>..<0xFF> and control/unknown tokens.

For that shape llama.cpp's SPM tokenizer (llm_tokenizer_spm) is simple: spaces become "▁", a "▁" is put before the
text (add_space_prefix, default true), the text is split into UTF-8 characters, and adjacent pairs that form a token
are merged. The only two-character tokens are "▁" + c with c ≠ "▁", so merges never overlap and none can merge
further: a left-to-right pass that joins "▁" with the character after it when "▁c" is a token gives the same result
in any merge order. A character with no token of its own falls back to its UTF-8 bytes' tokens. Special-token text
("<s>") stays text, as node-llama-cpp's tokenize does by default. The BOS goes first when tokenizer.ggml.add_bos_token
says so (default true), as the engine's evaluate puts it (EngineCore.evaluate, beginningToken).

    /usr/bin/python3 -B tokenizer.py MODEL.gguf TEXT...   prints [[ids of TEXT (with BOS)], ...] as JSON
"""

from __future__ import annotations

import json
import sys

from gguf_reader import GgufError, GgufFile

SPACE = "\u2581"
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6


class Tokenizer:
    def __init__(self, g: GgufFile):
        m = g.metadata
        model = m.get("tokenizer.ggml.model")
        if model != "llama":
            raise GgufError(
                f"{g.path} has a {model!r} tokenizer; this trainer reproduces llama.cpp's tokenization only for the "
                "byte-level 'llama' vocabularies MOC generates"
            )
        tokens = m.get("tokenizer.ggml.tokens")
        types = m.get("tokenizer.ggml.token_type")
        if not isinstance(tokens, list) or not isinstance(types, list) or len(tokens) != len(types):
            raise GgufError(f"{g.path} has no usable tokenizer.ggml.tokens / token_type")
        self.ids: dict[str, int] = {}
        self.bytes: list[int | None] = [None] * 256
        for i, (tok, typ) in enumerate(zip(tokens, types)):
            if typ == BYTE:
                if not (len(tok) == 6 and tok.startswith("<0x") and tok.endswith(">")):
                    raise GgufError(f"{g.path}: byte token {i} is {tok!r}, not <0xNN>")
                self.bytes[int(tok[3:5], 16)] = i
            elif typ == NORMAL:
                plain = len(tok) == 1
                spaced = len(tok) == 2 and tok[0] == SPACE and tok[1] != SPACE
                if not (plain or spaced):
                    raise GgufError(
                        f"{g.path}: token {i} ({tok!r}) is neither one character nor '▁' + one character: a "
                        "SentencePiece vocabulary with merges this trainer's tokenizer does not reproduce"
                    )
                self.ids.setdefault(tok, i)
            elif typ not in (UNKNOWN, CONTROL):
                raise GgufError(f"{g.path}: token {i} ({tok!r}) has type {typ}, which this tokenizer does not handle")
        missing = [b for b in range(256) if self.bytes[b] is None]
        if missing:
            raise GgufError(f"{g.path} lacks byte tokens (<0x{missing[0]:02X}> ...): characters could not fall back")
        self.space_prefix = bool(m.get("tokenizer.ggml.add_space_prefix", True))
        self.bos: int | None = m.get("tokenizer.ggml.bos_token_id") if m.get("tokenizer.ggml.add_bos_token", True) else None
        self.eos: int | None = m.get("tokenizer.ggml.eos_token_id")
        self.n_vocab = len(tokens)

    def encode(self, text: str, bos: bool = True) -> list[int]:
        out: list[int] = [self.bos] if bos and self.bos is not None else []
        if text == "":
            return out
        s = (SPACE if self.space_prefix else "") + text.replace(" ", SPACE)
        i = 0
        while i < len(s):
            c = s[i]
            pair = s[i : i + 2] if c == SPACE else None
            if pair is not None and len(pair) == 2 and pair in self.ids:
                out.append(self.ids[pair])
                i += 2
                continue
            if c in self.ids:
                out.append(self.ids[c])
            else:
                out.extend(self.bytes[b] for b in c.encode("utf-8"))  # type: ignore[misc]
            i += 1
        return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python3 tokenizer.py MODEL.gguf TEXT...", file=sys.stderr)
        sys.exit(2)
    try:
        with GgufFile(sys.argv[1]) as g:
            tok = Tokenizer(g)
    except GgufError as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)
    print(json.dumps([tok.encode(t) for t in sys.argv[2:]]))
