"""Bytes to text: encoding detection, binary/empty rejection, and normalisation.

This module owns the decision whether a file is text at all and, if so, which
encoding it is in. Everything downstream sees `normalise_text` output only, so
every character offset in the database indexes normalised text.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from dataclasses import dataclass

from extract.errors import SkippedInput

# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# C0 controls other than the whitespace ones, DEL, and C1 controls: text files
# carry a few at most (form feeds, stray escapes); binary data is full of them.
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0E, 0x20), 0x7F])
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05

# Without a BOM, UTF-16 shows up as NUL bytes on one side of each byte pair
# (ASCII-range characters); the other side is almost never NUL.
_UTF16_SAMPLE = 1 << 16
_UTF16_MIN_NUL_SHARE = 0.05

# Characters a GB18030 file plausibly contains: ASCII, CJK ideographs, kana,
# CJK/fullwidth/general punctuation, and the symbols, Greek and Cyrillic that
# GB2312 itself carries. Mis-decoded Latin-1 or binary lands outside this set.
_GB_IMPLAUSIBLE = re.compile(
    r"[^\t\n\r\x20-\x7e"
    r"\u00a4\u00a7\u00a8\u00b0\u00b1\u00b7\u00d7\u00e0-\u00fc"
    r"\u0391-\u03c9\u0401-\u0451"
    r"\u2000-\u206f\u2100-\u214f\u2190-\u22ff\u2460-\u24ff\u2500-\u26ff"
    r"\u3000-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_MAX_GB_IMPLAUSIBLE_SHARE = 0.02


@dataclass(frozen=True)
class Decoded:
    """Decoded text (BOM removed, not yet normalised) and the encoding's name."""

    text: str
    encoding: str


def decode_bytes(data: bytes, path: str) -> Decoded:
    """Detect the encoding of `data` and decode it, or raise `SkippedInput`.

    Order: BOM, NUL-byte check (UTF-16 without BOM, else binary), strict UTF-8,
    strict GB18030 that looks like Chinese text, else undecodable/binary.
    """
    if not data:
        raise SkippedInput(path, "empty", "file has no bytes")
    decoded = _decode(data, path)
    if _control_share(decoded.text) > _MAX_CONTROL_SHARE:
        raise SkippedInput(path, "binary", "too many control characters")
    if not decoded.text.strip():
        raise SkippedInput(path, "empty", "only whitespace")
    return decoded


def normalise_text(text: str) -> str:
    """Strip a leading BOM, turn CRLF/CR into LF, and apply NFKC."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # The quick check makes the common already-normalised case cheap on big files.
    if not unicodedata.is_normalized("NFKC", text):
        text = _nfkc_by_line(text)
    return text


def _nfkc_by_line(text: str) -> str:
    """NFKC, normalising only the lines that need it (in most dumps, few do). The same as
    normalising the whole text: a newline has no decomposition, never composes with a
    neighbour and stops the reordering of combining marks, so lines normalise alone."""
    return "\n".join(line if unicodedata.is_normalized("NFKC", line) else _nfkc(line) for line in text.split("\n"))


def _nfkc(line: str) -> str:
    """NFKC of a line, the common characters (full-width punctuation, compatibility
    spaces) replaced first by what they decompose to: that leaves the line's NFKD, so
    its NFKC, unchanged; and then the line is often normalised already."""
    pattern, table = _ascii_decompositions()
    line = pattern.sub(lambda m: table[m.group()], line)
    return line if unicodedata.is_normalized("NFKC", line) else unicodedata.normalize("NFKC", line)


@functools.cache
def _ascii_decompositions() -> tuple[re.Pattern[str], dict[str, str]]:
    """Characters of the Latin-1, punctuation and full-width blocks whose NFKD, and NFKC,
    is an ASCII string, and that string."""
    table: dict[str, str] = {}
    for lo, hi in ((0x00A0, 0x0100), (0x2000, 0x2070), (0x3000, 0x3040), (0xFF00, 0xFFF0)):
        for char in map(chr, range(lo, hi)):
            ascii_form = unicodedata.normalize("NFKD", char)
            if ascii_form != char and ascii_form.isascii() and unicodedata.normalize("NFKC", char) == ascii_form:
                table[char] = ascii_form
    return re.compile("[" + "".join(map(re.escape, table)) + "]"), table


def _decode(data: bytes, path: str) -> Decoded:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data[len(bom) :].decode(encoding.removesuffix("-sig")), encoding)
            except UnicodeDecodeError as exc:
                raise SkippedInput(path, "undecodable", f"invalid {encoding}: {exc.reason}") from None
    if b"\x00" in data:
        utf16 = _guess_utf16(data)
        if utf16 is None:
            raise SkippedInput(path, "binary", "contains NUL bytes")
        try:
            return Decoded(data.decode(utf16), utf16)
        except UnicodeDecodeError:
            raise SkippedInput(path, "binary", "contains NUL bytes") from None
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausible_chinese(text):
        return Decoded(text, "gb18030")
    control = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if control > _MAX_CONTROL_SHARE * len(data):
        raise SkippedInput(path, "binary", "too many control bytes")
    raise SkippedInput(path, "undecodable", "not UTF-8/16/32 or GB18030 text")


def _guess_utf16(data: bytes) -> str | None:
    """Return the UTF-16 byte order whose NUL pattern `data` shows, if any."""
    if len(data) % 2:
        return None
    sample = data[:_UTF16_SAMPLE]
    pairs = len(sample) // 2
    nul_even = sample[0::2].count(0)
    nul_odd = sample[1::2].count(0)
    # ASCII-range characters put their NUL high byte second (LE) or first (BE);
    # a pattern on one side with (almost) nothing on the other is UTF-16.
    if nul_odd >= _UTF16_MIN_NUL_SHARE * pairs and nul_even * 10 <= nul_odd:
        return "utf-16-le"
    if nul_even >= _UTF16_MIN_NUL_SHARE * pairs and nul_odd * 10 <= nul_even:
        return "utf-16-be"
    return None


def _plausible_chinese(text: str) -> bool:
    if not _CJK.search(text):
        return False
    implausible = len(_GB_IMPLAUSIBLE.findall(text))
    return implausible <= _MAX_GB_IMPLAUSIBLE_SHARE * len(text)


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    return len(_CONTROL_CHARS.findall(text)) / len(text)
