"""`extract runs`, `extract claims`, `extract show`: reading the database."""

from __future__ import annotations

from pathlib import Path

import click

from extract.cli.common import db_option, handle_errors, json_option, print_json, reject_reasons
from extract.config import load_pipeline
from extract.errors import NotFound
from extract.pipeline import database_path, topics_overview_of
from extract.store import open_database
from extract.store.claims import ClaimFilter, claims_by_prefix, get_claim, query_claims
from extract.store.observations import observations_of_claim
from extract.store.runs import list_runs


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command()
@db_option
@json_option
@handle_errors
def runs(db: Path | None, as_json: bool) -> None:
    """List runs with their status, model, prompt hashes and counts.

    \b
    Examples:
      extract runs
      extract runs --json | jq '.[-1].counts'
    """
    with open_database(database_path(None, db), read_only=True) as database:
        rows = list_runs(database)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        c = r["counts"] or {}
        prompts = ", ".join(f"{k}@{v[:8]}" for k, v in (r["prompts"] or {}).items())
        if r["command"] == "import":
            click.echo(
                f"{r['run_id']}  {r['status']:<17} {r['started_at']}  import\n"
                f"    lines {c.get('lines', 0)} observations {c.get('observations', 0)}"
                f" duplicates {c.get('duplicates', 0)} claims {c.get('claims', 0)} rejects {c.get('rejects', 0)}"
            )
            continue
        click.echo(
            f"{r['run_id']}  {r['status']:<17} {r['started_at']}  {r['command']}  model={r['model']}"
            f"  prompts={prompts}"
            + (f"\n    structured output: {c['structured_output']}" if c.get("structured_output") else "")
            + f"\n    docs {c.get('documents', 0)} records {c.get('records', 0)} chunks {c.get('chunks', 0)}"
            f" calls {c.get('calls', 0)} cached {c.get('cached', 0)} retried {c.get('retries', 0)}"
            f" re-asked {c.get('reasks', 0)} split {c.get('splits', 0)}"
            f" failed {c.get('failed', 0)} observations {c.get('observations', 0)} rejects {c.get('rejects', 0)}"
            + reject_reasons(c.get("reject_reasons"))
            + f" tokens {c.get('prompt_tokens', 0) + c.get('completion_tokens', 0)}"
            f" cost {'?' if c.get('cost_usd') is None else '$' + format(c['cost_usd'], '.4f')}"
            + (f"\n    error: {r['error']}" if r["error"] else "")
        )
    if not rows:
        click.echo("no runs yet")


@click.command()
@click.option("--stance", type=click.Choice(["consensus", "contested"]))
@click.option("--domain", help="Domain slug, e.g. training.")
@click.option("--topic", help="Topic slug.")
@click.option("--tag", help="Tag (case-insensitive).")
@click.option("--search", help="Text the claim contains (case-insensitive).")
@click.option("--limit", type=click.IntRange(min=1), help="At most N claims (default: all).")
@click.option(
    "--visible",
    is_flag=True,
    help="Apply the browser's hide rule: hidden when no observation cites an arXiv id, a URL or a record"
    " with one, and none anchors a camp (uncited report statements count for neither).",
)
@click.option("--superseded", is_flag=True, help="Also claims seen only in runs a newer run replaced.")
@db_option
@json_option
@handle_errors
def claims(
    stance: str | None,
    domain: str | None,
    topic: str | None,
    tag: str | None,
    search: str | None,
    limit: int | None,
    visible: bool,
    superseded: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Query claims, most observed first.

    \b
    Examples:
      extract claims --stance contested --domain training
      extract claims --search "KV cache" --json
    """
    f = ClaimFilter(
        stance=stance,
        domain=domain,
        topic=topic,
        tag=tag,
        search=search,
        limit=limit,
        visible=visible,
        superseded=superseded,
    )
    with open_database(database_path(None, db), read_only=True) as database:
        rows = query_claims(database, f)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        tags = ", ".join(r["tags"])
        click.echo(
            f"{r['claim_id']}  {r['stance']:<9} [{r['domain'] or '-'}]  {r['n_obs']} obs  {tags}\n"
            f"    {_cut(r['text'], 200)}"
        )
    click.echo(f"{len(rows)} claim(s)", err=True)


@click.command()
@click.argument("claim_id")
@db_option
@json_option
@handle_errors
def show(claim_id: str, db: Path | None, as_json: bool) -> None:
    """One claim with all its observations and their full provenance.

    Observations a newer run superseded are listed too, marked. The id may be
    shortened to any unique prefix.

    \b
    Examples:
      extract show c-0123456789
      extract show c-0123 --json
    """
    with open_database(database_path(None, db), read_only=True) as database:
        claim = get_claim(database, claim_id)
        if claim is None and len(claim_id) >= 4:
            # A shortened id, as `diff` takes shortened run ids.
            matches = claims_by_prefix(database, claim_id)
            if len(matches) > 1:
                raise NotFound(f"claim id {claim_id} is ambiguous: {', '.join(matches[:2])}, ...")
            claim = get_claim(database, matches[0]) if matches else None
        if claim is None:
            raise NotFound(f"no claim {claim_id} (list them with `extract claims`)")
        claim_id = claim["claim_id"]
        observations = observations_of_claim(database, claim_id)
    if as_json:
        print_json({**claim, "observations": observations})
        return
    earlier = sum(1 for o in observations if not o["current"])
    click.echo(
        f"{claim['claim_id']}  {claim['stance']}  [{claim['domain'] or '-'}]  {claim['n_obs']} observation(s)"
        + (f", and {earlier} superseded by newer runs" if earlier else "")
    )
    click.echo(f"  {claim['text']}")
    click.echo(f"  tags: {', '.join(claim['tags'])}")
    if claim["spawned"]:
        click.echo(f"  spawned topic: {claim['spawned']}")
    click.echo(f"  citations: {', '.join(claim['citations']) or '-'}")
    first: dict[tuple[str, bool], int] = {}
    for i, o in enumerate(observations, 1):
        mark = "" if o["current"] else "  (superseded)"
        seen = first.setdefault((o["evidence_key"], o["current"]), i)
        if seen != i:
            mark += f"  (the same span as [{seen}], from an overlapping chunk)"
        click.echo(f"\n  [{i}] {o['job']} by {o['model']} in {o['run_id']} at {o['created_at']:%Y-%m-%d %H:%M}{mark}")
        if o["field_path"]:
            click.echo(
                f"      field: {o['field_path']} (topic {o['topic']}{', camp ' + o['camp'] if o['camp'] else ''})"
            )
        click.echo(f"      quote ({o['alignment']}): {_cut(o['quote'], 300)}")
        where = [f"{name} {str(o[key])[:width]}" for name, key, width in _WHERE if o[key] is not None]
        if o["doc_sha256"] is not None:
            click.echo(f"      source: {o['source']} chars {o['char_start']}-{o['char_end']} ({', '.join(where)})")
        elif o["source"]:
            click.echo(f"      source: {o['source']}")
        if o["request_hash"] is not None:
            click.echo(f"      prompt: {o['prompt_name']}@{str(o['prompt_hash'])[:12]}  request: {o['request_hash']}")
        else:
            click.echo("      imported: no request or raw answer here")
        if o["prompt_tokens"] is not None:
            click.echo(
                f"      answer: {o['prompt_tokens']} prompt + {o['completion_tokens']} completion tokens,"
                f" finish {o['finish_reason']}, {o['latency_ms']} ms,"
                f" structured output {o['structured_output'] or 'not recorded'} (raw text in --json)"
            )
        if o["flags"]:
            click.echo(f"      flags: {', '.join(o['flags'])}")


# Where a quote lies, as `show` names it: what an observation has of these.
_WHERE = (("doc", "doc_sha256", 12), ("record", "record_id", None), ("chunk", "chunk_id", None))


@click.command()
@click.argument("pipeline_file", metavar="PIPELINE.toml", type=click.Path(path_type=Path, dir_okay=False))
@db_option
@json_option
@handle_errors
def topics(pipeline_file: Path, db: Path | None, as_json: bool) -> None:
    """Topics with their records, claims and report runs; then topics claims propose.

    \b
    Example:
      extract topics pipelines/demo.toml
    """
    pipeline = load_pipeline(pipeline_file)
    rows = topics_overview_of(pipeline, database_path(pipeline, db))
    if as_json:
        print_json(rows)
        return
    for t in rows:
        mark = "" if t["declared"] else "  (proposed: spawned by contested claims)"
        click.echo(
            f"{t['slug']:<40} records {t['records']:>4}  claims {t['claims']:>5}  report runs {t['report_runs']}{mark}"
        )
