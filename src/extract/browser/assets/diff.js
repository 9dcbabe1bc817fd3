// diff.js: the diff view (`extract report --diff`, `extract diff --format html`). The two
// runs, a stat table by topic (like `git diff --stat`), then the changed claims with their
// kinds and details, filtered by kind. A changed claim with a card in the claims list
// links to it (`#claim-ID`: claims.js brings the card into view whatever its filters).
VIEWS.diff = (section, root) => {
  const PAGE = 200;
  const QUOTE_CHARS = 1000;
  const BAR_WIDTH = 40;
  const NO_TOPIC = "(no topic)";
  const CLAIM_ID = /^c-[0-9a-f]+$/;
  const MARKS = { new: "+", dropped: "−", changed: "~" };
  const STANCES = new Set(["consensus", "contested"]);

  const diff = section.diff;
  const kinds = section.kinds;
  const linked = new Set(section.linked);
  const summary = diff.summary;
  let kindFilter = null;
  let matches = diff.changes;
  let shown = 0;

  // By characters, not UTF-16 units: a cut never splits a CJK extension or an emoji.
  const cut = (text, width) => {
    const chars = Array.from(text);
    return chars.length <= width ? text : chars.slice(0, width - 1).join("") + "…";
  };
  const changedClaims = (t) => t.new + t.dropped + t.changed;
  const plural = (n, word) => `${formatCount(n)} ${word}${n === 1 ? "" : "s"}`;

  const stat = (key, label) => {
    const node = h("div", "stat stat-diff-" + key, h("span", "stat-value", formatCount(summary[key])), h("span", "stat-label", label));
    node.dataset.diffStat = key;
    node.dataset.value = String(summary[key]);
    return node;
  };
  const toClaims = h("a", "to-claims", "Claims list ↓");
  toClaims.href = "#claims";
  const header = h(
    "header",
    "masthead diff-masthead",
    h(
      "div",
      "masthead-title",
      h("h1", null, "Diff"),
      h(
        "p",
        "scope",
        diff.run_a.run_id,
        " → ",
        diff.run_b.run_id,
        " · ",
        diff.topic === null ? "all topics" : "topic " + diff.topic,
        " · ",
        toClaims,
      ),
    ),
    h("div", "stats", stat("new", "new"), stat("dropped", "dropped"), stat("changed", "changed"), stat("unchanged", "unchanged")),
  );
  const body = h("div", "diff-body", runsTable());
  const view = h("section", "diff-view", header, body);
  view.id = "diff";
  root.append(view);

  if (diff.changes.length === 0) {
    body.append(
      h("p", "diff-empty", `No changes: ${plural(summary.unchanged, "claim")} compared, all identical.`),
    );
    return;
  }

  const filterBar = h("div", "kind-filter");
  filterBar.setAttribute("role", "toolbar");
  filterBar.setAttribute("aria-label", "Show the changes of one kind");
  const count = h("p", "diff-count");
  count.setAttribute("aria-live", "polite");
  const list = h("ol", "change-list");
  const more = button("show-more", "", () => renderMore());
  body.append(statTable(), filterBar, count, list, more);

  function runsTable() {
    const columns = ["", "run", "started", "command", "model", "prompts", "pipeline", "status", "observations", "claims"];
    const row = (label, run) => {
      const prompts = Object.entries(run.prompts).sort(([a], [b]) => a.localeCompare(b));
      const promptCell = h(
        "td",
        "prompts",
        prompts.length === 0
          ? "–"
          : prompts.map(([name, digest]) => {
              const node = h("span", "prompt", name + "@" + String(digest).slice(0, 8));
              node.title = `${name}: sha256 ${digest}`;
              return node;
            }),
      );
      const pipeline = h("td", "pipeline", run.pipeline_name ?? "–");
      if (run.pipeline_hash) pipeline.title = "sha256 " + run.pipeline_hash;
      const tr = h(
        "tr",
        null,
        h("th", "run-label", label),
        h("td", "run-id", run.run_id),
        h("td", "started", run.started_at),
        h("td", "command", run.command),
        h("td", "model", run.model ?? "–"),
        promptCell,
        pipeline,
        h("td", null, run.status),
        h("td", "num", formatCount(run.observations)),
        h("td", "num", formatCount(run.claims)),
      );
      tr.dataset.run = label;
      return tr;
    };
    return h(
      "div",
      "table-box",
      h(
        "table",
        "diff-runs",
        h("thead", null, h("tr", null, ...columns.map((c) => h("th", null, c)))),
        h("tbody", null, row("A", diff.run_a), row("B", diff.run_b)),
      ),
    );
  }

  function statTable() {
    // Like git's --stat: one bar a topic, scaled to the widest, each non-zero count keeps a mark.
    const widest = Math.max(1, ...diff.by_topic.map(changedClaims));
    const scale = Math.min(1, BAR_WIDTH / widest);
    const bar = (t) =>
      h(
        "span",
        "bar",
        ...["new", "dropped", "changed"].map((key) =>
          t[key] ? h("span", "bar-" + key, MARKS[key].repeat(Math.max(1, Math.round(t[key] * scale)))) : null,
        ),
      );
    const row = (name, t, className, withBar) => {
      return h(
        "tr",
        className,
        h("th", "topic", name),
        h("td", "num", formatCount(changedClaims(t))),
        h("td", "bar-cell", withBar ? bar(t) : null),
        ...kinds.map((k) => {
          const cell = h("td", "num" + (t.by_kind[k] ? "" : " zero"), formatCount(t.by_kind[k]));
          cell.dataset.kind = k;
          cell.dataset.count = String(t.by_kind[k]);
          return cell;
        }),
        h("td", "num zero", formatCount(t.unchanged)),
      );
    };
    const rows = diff.by_topic.map((t) => {
      const tr = row(t.topic ?? NO_TOPIC, t, changedClaims(t) ? null : "quiet", true);
      tr.dataset.topic = t.topic ?? "";
      return tr;
    });
    const total = row("total", summary, "total", false);
    total.dataset.total = "1";
    return h(
      "div",
      "table-box",
      h(
        "table",
        "diff-stat",
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", null, "topic"),
            h("th", "num", "claims changed"),
            h("th", null, ""),
            ...kinds.map((k) => h("th", "num kind-head kind-" + k, k)),
            h("th", "num", "unchanged"),
          ),
        ),
        h("tbody", null, rows),
        h("tfoot", null, total),
      ),
    );
  }

  function kindButton(kind, label, n) {
    const active = kindFilter === kind;
    const b = button("kind-button" + (kind === null ? "" : " kind-" + kind) + (active ? " active" : ""), [
      h("span", "kind-label", label),
      h("span", "kind-count", formatCount(n)),
    ]);
    b.dataset.kind = kind ?? "";
    b.dataset.count = String(n);
    b.setAttribute("aria-pressed", String(active));
    b.disabled = n === 0 && !active;
    return b;
  }

  function renderFilter() {
    filterBar.replaceChildren(
      h("span", "kind-filter-label", "Show"),
      kindButton(null, "all", diff.changes.length),
      ...kinds.map((k) => kindButton(k, k, summary.by_kind[k])),
    );
  }

  function setKind(kind) {
    kindFilter = kind;
    matches = kind === null ? diff.changes : diff.changes.filter((c) => c.kinds.includes(kind));
    renderFilter();
    list.replaceChildren();
    shown = 0;
    renderMore();
  }

  function renderMore() {
    const page = matches.slice(shown, shown + PAGE);
    list.append(...page.map(changeCard));
    shown += page.length;
    const left = matches.length - shown;
    more.hidden = left <= 0;
    more.textContent = `Show ${formatCount(Math.min(PAGE, left))} more (${formatCount(left)} left)`;
    count.dataset.matches = String(matches.length);
    count.dataset.kind = kindFilter ?? "";
    count.textContent =
      plural(matches.length, "changed claim") +
      (kindFilter === null ? "" : ` with ${kindFilter}`) +
      (shown < matches.length ? `, showing the first ${formatCount(shown)}` : "");
  }

  function stanceBadge(stance) {
    return h("span", "badge " + (STANCES.has(stance) ? "stance-" + stance : "stance-other"), stance);
  }

  function domainChip(domain) {
    return h("span", "chip chip-domain", domain ?? "(none)");
  }

  function delta(kind, sign, value) {
    const label = kind === "citations" && ARXIV_ID.test(value) ? arxivLink(value) : value;
    return h("span", "delta delta-" + sign, sign === "added" ? "+" : "−", label);
  }

  function quote(sign, text) {
    return h("li", "quote quote-" + sign, h("span", "quote-mark", sign === "added" ? "+" : "−"), h("blockquote", "excerpt", cut(text, QUOTE_CHARS)));
  }

  function detail(label, ...value) {
    const row = h("div", "detail", h("dt", null, label), h("dd", null, ...value));
    row.dataset.detail = label;
    return row;
  }

  function changedDetails(c) {
    const rows = c.kinds.map((kind) => {
      const d = c.details[kind];
      if (kind === "stance-flip") return detail(kind, stanceBadge(d.a), " → ", stanceBadge(d.b));
      if (kind === "domain") return detail(kind, domainChip(d.a), " → ", domainChip(d.b));
      const signed = [...d.added.map((v) => ["added", v]), ...d.removed.map((v) => ["removed", v])];
      if (kind === "evidence") return detail(kind, h("ul", "quotes", signed.map(([sign, q]) => quote(sign, q))));
      return detail(kind, signed.map(([sign, v]) => delta(kind, sign, v)));
    });
    return h("dl", "change-details", rows, detail("observations", `${formatCount(c.a.n_obs)} → ${formatCount(c.b.n_obs)}`));
  }

  // A new claim as run B saw it, a dropped one as run A did: every value added, or removed.
  function wholeView(status, v) {
    const sign = status === "new" ? "added" : "removed";
    return h(
      "dl",
      "change-details",
      detail(status === "new" ? "in run B" : "in run A", stanceBadge(v.stance), domainChip(v.domain), plural(v.n_obs, "observation")),
      v.tags.length ? detail("tags", v.tags.map((t) => delta("tags", sign, t))) : null,
      v.citations.length ? detail("citations", v.citations.map((x) => delta("citations", sign, x))) : null,
      detail("evidence", h("ul", "quotes", v.evidence.map((q) => quote(sign, q)))),
    );
  }

  function claimId(id) {
    if (!linked.has(id) || !CLAIM_ID.test(id)) {
      return h("span", "claim-id unlisted", id, h("span", "unlisted-note", " · not in the claims list"));
    }
    const link = h("a", "claim-id claim-link", id);
    link.href = "#claim-" + id;
    link.title = "Show this claim's card in the claims list";
    return link;
  }

  function changeCard(c) {
    const status = c.a === null ? "new" : c.b === null ? "dropped" : "changed";
    const node = h("li", "change change-" + status);
    node.dataset.claimId = c.claim_id;
    node.dataset.kinds = c.kinds.join(" ");
    node.append(
      h(
        "div",
        "change-head",
        h("span", "change-mark mark-" + status, MARKS[status]),
        c.kinds.map((k) => {
          const badge = h("span", "kind-badge kind-" + k, k);
          badge.dataset.kind = k;
          return badge;
        }),
        h("span", "chip chip-topic", c.topic ?? NO_TOPIC),
        c.field_path ? h("span", "field-path", c.field_path) : null,
        claimId(c.claim_id),
      ),
      h("p", "claim-text", c.text ?? ""),
      status === "changed" ? changedDetails(c) : wholeView(status, status === "new" ? c.b : c.a),
    );
    return node;
  }

  filterBar.addEventListener("click", (event) => {
    const b = event.target.closest("button.kind-button");
    if (!b) return;
    const kind = b.dataset.kind === "" ? null : b.dataset.kind;
    setKind(kind === kindFilter ? null : kind);
  });
  setKind(null);
};
