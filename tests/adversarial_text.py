"""Text built to break a tokenizer shortcut: CJK without spaces, full-width punctuation,
contractions, digits, combining marks, emoji, runs of spaces and newlines, and runs far
longer than a block without a safe cut (`stages.token_spans`)."""

from __future__ import annotations

import random

from extract.stages.tokens import MAX_PIECE_CHARS

_WORDS = ["the", "model", "shows", "that", "don't", "it's", "we'll", "THEY'RE", "GSM8K", "(ours)", "vs.", "e.g."]
_CJK = "这是一个关于大语言模型的研究我们提出了新的方法实验表明"
_PUNCT = list(",.;:!?()[]{}<>\"'-_/\\|@#$%^&*+=~`") + list("，。、；：！？（）《》「」“”‘’…—·")
_SEPARATORS = [" ", " ", "  ", "\t", "\n", "\n\n", "\n  \n", "\n\n  ", " \n", "。", ". ", "!\n", "\u3000", "\xa0", ""]
_ODD = ["😀", "e\u0301", "ﬁ", "Ⅻ", "〇", "々", "ｶ", "Ａ", "ß", "\r", "\r\n", "\x0c", "\x1c", "İ", "\u200b"]


def adversarial_text(rng: random.Random, size: int) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        r = rng.random()
        if r < 0.3:
            part = rng.choice(_WORDS)
        elif r < 0.55:
            part = "".join(rng.choice(_CJK) for _ in range(rng.randint(1, 12)))
        elif r < 0.65:
            part = rng.choice(_PUNCT) * rng.randint(1, 3)
        elif r < 0.73:
            part = str(rng.randint(0, 10 ** rng.randint(1, 8)))
        elif r < 0.8:
            part = rng.choice(_ODD)
        elif r < 0.805:
            part = "x" * rng.randint(50, 2 * MAX_PIECE_CHARS)  # no safe cut inside
        elif r < 0.81:
            part = " " * rng.randint(5, 300)
        elif r < 0.815:
            part = "".join(rng.choice(_CJK) for _ in range(rng.randint(200, 3000)))
        else:
            part = rng.choice(_WORDS) + rng.choice(_PUNCT)
        parts.append(part + rng.choice(_SEPARATORS))
    return "".join(parts)
