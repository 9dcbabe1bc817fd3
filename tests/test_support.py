"""Number support (`extract.stages.support`): what counts as a number, and when two are the same."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extract.stages.support import found_in, numbers, unsupported


def _said(text: str) -> list[tuple[Decimal, str]]:
    return [(n.value, n.kind) for n in numbers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 12% gain", [(Decimal(12), "%")]),
        ("a 12 % gain", [(Decimal(12), "%")]),
        ("a 12 percent gain", [(Decimal(12), "%")]),
        ("提升了１２％的性能", [(Decimal(12), "%")]),  # full-width, NFKC
        ("2× faster", [(Decimal(2), "x")]),
        ("2x faster", [(Decimal(2), "x")]),
        ("a 2-fold speedup, 3 times less memory", [(Decimal(2), "x"), (Decimal(3), "x")]),
        ("速度提升2倍", [(Decimal(2), "x")]),
        ("0.85 accuracy and 2.50 loss", [(Decimal("0.85"), ""), (Decimal("2.5"), "")]),
        ("1,000 tokens", [(Decimal(1000), "")]),
        ("3B tokens", [(Decimal(3 * 10**9), "")]),
        ("3 billion tokens", [(Decimal(3 * 10**9), "")]),
        ("128K context", [(Decimal(128_000), "")]),
        ("a 7B-parameter model", [(Decimal(7 * 10**9), "")]),
        ("7 万条数据", [(Decimal(70_000), "")]),
        ("gains of 10-20%", [(Decimal(10), ""), (Decimal(20), "%")]),
        # A bracketed quantity is a number, not a citation marker.
        ("LIMI beats baselines by [47%].", [(Decimal(47), "%")]),
        ("[12x] faster, [640%] more, [0.85] F1", [(Decimal(12), "x"), (Decimal(640), "%"), (Decimal("0.85"), "")]),
        # A range is two numbers however it is joined.
        ("2x-9x faster", [(Decimal(2), "x"), (Decimal(9), "x")]),
        ("2x–9x faster, 2x to 9x, 2x/9x", [(Decimal(2), "x"), (Decimal(9), "x")] * 3),
        ("10%-20% better", [(Decimal(10), "%"), (Decimal(20), "%")]),
        # A leading point, an exponent.
        ("an F1 of .47", [(Decimal("0.47"), "")]),
        ("a rate of 3e-5 and 1E5 steps", [(Decimal("0.00003"), ""), (Decimal(100_000), "")]),
        ("a 1e400% gain", [(Decimal("1e400"), "%")]),
        ("a **12**% gain, __3__x faster", [(Decimal(12), "%"), (Decimal(3), "x")]),  # emphasis is no part of it
    ],
)
def test_numbers_are_read_and_normalised(text: str, expected: list[tuple[Decimal, str]]) -> None:
    assert _said(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Published in 2019 and revised in 2024.",  # years standing alone
        "GPT-4o beats Qwen2.5-7B and Llama-3-8B in FP8 on H100s; see v1.5 and top-1.",  # names
        "As [Metis2025Home] and [Dao2022Flash] show, Metis2025Home holds.",  # citation keys
        "See arXiv:2307.08691v2 and 2205.14135.",  # arXiv ids
        "As in arXiv:2203.1",  # an id cut short
        "It rests on c-0123456789 and c-a90bd61ea9.",  # claim ids
        "The field report.positions[0].stance answers [2], [2, 3] and [1-4].",  # field paths, footnotes
        "As [@smith:12] and [Vaswani2017] show.",  # bracketed keys with digits after a colon or a year
        "Read https://example.org/2024/12/post-3 for more.",  # URLs
        "1. first point\n2) second point\n(3) third point, ① and 4、 more",  # list markers
        "Twelve percent, 十二倍.",  # numbers in words are not read
    ],
)
def test_what_only_looks_like_a_number_is_not_one(text: str) -> None:
    assert numbers(text) == []


def test_a_year_with_a_unit_is_a_number() -> None:
    assert _said("a 2019% rise over 2048 tokens") == [(Decimal(2019), "%")]


def test_spellings_of_one_number_support_each_other() -> None:
    source = found_in(["The kernel gives a 2x speedup, 12 % less memory and 1,000 more tokens at 128K context."])
    assert unsupported("a 2× speedup with 12% less memory, 1000 more tokens, 128,000 context", source) == []
    assert unsupported("128k context and 128 thousand tokens", source) == []


def test_a_percentage_or_multiplier_must_be_found_as_one() -> None:
    source = found_in(["Table 12 lists 3 runs."])
    assert [str(n) for n in unsupported("a 12% gain, 3x faster", source)] == ["12%", "3x"]
    # A bare number is met by the same value in any form.
    assert unsupported("3 runs in table 12", found_in(["3x faster and 12% better"])) == []


def test_unsupported_lists_each_missing_number_once_and_reads_every_source() -> None:
    claims, record = found_in(["a 40% cut"]), found_in(["a 2x speedup"])
    stated = "a 2x speedup, a 40% cut, 37% more, then 37% again"
    assert [str(n) for n in unsupported(stated, claims)] == ["2x", "37%"]
    assert [str(n) for n in unsupported(stated, claims, record)] == ["37%"]
    assert unsupported("no numbers here") == []


def test_a_huge_exponent_is_a_number_of_its_own() -> None:
    # Past the largest exponent a value is infinite: still that number, never `1`, never an error.
    assert [str(n) for n in numbers("up 1e99999999999999999999%")] == ["1e99999999999999999999%"]
    assert unsupported("up 1e400%", found_in(["up 1%"])) != []
    assert unsupported("up 1e400%", found_in(["up 1e400 %"])) == []


def test_an_invented_bracketed_or_ranged_number_is_unsupported() -> None:
    source = found_in(["LIMI beats the baselines by 12% and is 2x faster."])
    assert [str(n) for n in unsupported("LIMI beats baselines by [47%].", source)] == ["47%"]
    assert [str(n) for n in unsupported("LIMI is 2x-9x faster.", source)] == ["9x"]
    assert [str(n) for n in unsupported("an F1 of .47", found_in(["an F1 of 47"]))] == [".47"]
