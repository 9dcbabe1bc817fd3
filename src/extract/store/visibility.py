"""The hide rule: which claims the claims view shows by default.

The dashboard keeps only claims "with a paper source, or an anchor of a camp in a
debate"; the rest are hidden (still listed on request). Here a claim is visible when
one of its observations that count (its current ones, or all of them when none is
current, as for its other fields) either

- carries a resolvable citation: an arXiv id, an http(s) URL, or the citation key of
  a stored record that itself has an arXiv id or a URL. A key of a record with
  neither (a thread post, a blog item without a link) names where the text was read,
  which the observation records anyway; it gives a reader no source to follow. A
  citation the observation flags `unknown_citation:<value>` never counts: a key no
  record has, or an arXiv id or URL a triage claim made up (no record's, and not in
  the chunk it was read from: `extract.stages.validate.names_nothing`); nor does a
  claim id (`unknown_claim:<id>` when no such claim exists); or
- is a camp anchor: a report position's stance or counter (it has a camp),

and is not flagged `uncited` (a report statement that cited nothing of its topic:
`extract.stages.report_citations`): such a statement neither sources nor anchors
its claim.
"""

from __future__ import annotations

# The observation flag of a report statement that cites nothing of its topic.
UNCITED = "uncited"
# The prefix of the flag of a citation that names nothing (`unknown_citation:<value>`),
# and of a claim id naming no claim (`unknown_claim:<id>`).
UNKNOWN_CITATION = "unknown_citation:"
UNKNOWN_CLAIM = "unknown_claim:"

# The same ids the claims browser links (`extract.browser.claims.ARXIV_ID`), in RE2.
ARXIV_ID_RE2 = r"\d{4}\.\d{4,5}|[a-z][a-z-]{0,15}(?:\.[A-Z]{2})?/\d{7}"

# SQL selecting the `claim_id` of every visible claim; parameters: VISIBLE_PARAMS.
VISIBLE_CLAIM_IDS = """
    WITH cur AS (SELECT obs_id, claim_id FROM current_observations),
    counting AS (
        SELECT o.claim_id, o.camp, o.citations, o.flags FROM observations o
        WHERE NOT list_contains(o.flags, ?)
          AND (o.obs_id IN (SELECT obs_id FROM cur) OR o.claim_id NOT IN (SELECT claim_id FROM cur))
    ),
    linked_keys AS (SELECT citation_key FROM records WHERE len(arxiv_ids) > 0 OR len(urls) > 0)
    SELECT claim_id FROM counting WHERE camp IS NOT NULL
    UNION
    SELECT claim_id FROM (SELECT claim_id, flags, unnest(citations) AS cited FROM counting)
    WHERE NOT list_contains(flags, ? || cited)
      AND (regexp_full_match(cited, ?)
           OR starts_with(cited, 'http://') OR starts_with(cited, 'https://')
           OR cited IN (SELECT citation_key FROM linked_keys))
"""
VISIBLE_PARAMS = [UNCITED, UNKNOWN_CITATION, ARXIV_ID_RE2]
