"""Parsing an answer, called directly: `parse_json` takes the JSON of a model's answer
(bare, fenced, or inside prose) and `parse_triage` holds it to the triage schema.

Fences, invalid JSON's position and schema violations are in test_validate_core.py;
these add prose around the JSON, truncated and empty answers."""

from __future__ import annotations

import json

import pytest

from extract.stages.validate import AnswerError, parse_json, parse_triage

CLAIM = {
    "text": "Scaling helps.",
    "stance": "consensus",
    "domain": "other",
    "tags": ["scaling"],
    "topic": None,
    "citations": [],
    "quote": "scaling helps a lot",
}
ANSWER = json.dumps({"claims": [CLAIM, {**CLAIM, "text": "Data helps too.", "quote": "data helps"}]})


@pytest.mark.parametrize(
    "raw",
    [
        ANSWER,
        f"\n\n  {ANSWER}  \n",
        json.dumps(json.loads(ANSWER), indent=2),  # pretty-printed
        f"```json\n{ANSWER}\n```",
        f"Here are the claims:\n{ANSWER}\nHope this helps!",  # prose around it
        f"Sure! ```json\n{ANSWER}\n``` Done.",  # a fence inside prose
        f"Output (JSON, see {{}} below):\n{ANSWER}",  # an empty object is skipped
        f"{ANSWER}\n{json.dumps({'claims': []})}",  # two answers: the first is taken
    ],
)
def test_the_answer_is_found_bare_fenced_or_inside_prose(raw: str) -> None:
    answer = parse_triage(raw)
    assert [c.text for c in answer.claims] == ["Scaling helps.", "Data helps too."]
    assert answer.claims[1].quote == "data helps"


def test_json_values_that_parse_whole_are_returned_as_they_are() -> None:
    assert parse_json("{}") == {}
    assert parse_json("[]") == []
    assert parse_json('{"a": "中文 ✓"}') == {"a": "中文 ✓"}
    assert parse_json("null") is None  # valid JSON; the schema decides
    with pytest.raises(AnswerError) as caught:
        parse_triage("null")
    assert caught.value.reason == "schema_violation"


@pytest.mark.parametrize("raw", ["", "   ", "\n\n", "```json\n\n```", "I found no claims in this text."])
def test_an_empty_answer_or_one_without_json_is_invalid_json(raw: str) -> None:
    with pytest.raises(AnswerError) as caught:
        parse_json(raw)
    assert caught.value.reason == "invalid_json"
    assert "line 1 column 1" in caught.value.detail
    assert str(caught.value).startswith("invalid_json: ")


@pytest.mark.parametrize("cut", [1, 10, len(ANSWER) // 2, len(ANSWER) - 1])
def test_a_truncated_answer_never_yields_claims(cut: int) -> None:
    raw = ANSWER[:cut]
    with pytest.raises(AnswerError) as caught:
        parse_triage(raw)
    # Cut before any whole object closes: not JSON. Cut after the first claim closed: that
    # claim alone is the first whole JSON value, and it is not an answer.
    assert caught.value.reason in ("invalid_json", "schema_violation")
    with pytest.raises(AnswerError):
        parse_triage(f"```json\n{raw}")  # an opened fence never closed


def test_a_truncated_answer_is_reported_with_where_it_ends() -> None:
    raw = '{"claims": [{"text": "Scaling helps.", "stance": "cons'
    with pytest.raises(AnswerError) as caught:
        parse_json(raw)
    assert caught.value.reason == "invalid_json"
    # The column of the string left open, counted from 1.
    column = raw.index('"cons') + 1
    assert caught.value.detail.startswith("Unterminated string")
    assert caught.value.detail == f"Unterminated string starting at line 1 column {column}"


def test_a_citation_marker_in_the_prose_before_the_answer_is_not_the_answer() -> None:
    answer = parse_triage(f"As noted in [1], the claims are:\n{ANSWER}")
    assert len(answer.claims) == 2
