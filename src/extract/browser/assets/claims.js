// claims.js: the claims view. Header counts, facets (stance, domain, topic, tag),
// text search, and the claim list with sources and evidence. Matching is one
// pass over the data; cards are built a page at a time, so 10,000 claims stay
// responsive. A link to `#claim-ID` (from the diff view, or in a URL) brings that
// claim's card into view, clearing the filters that hide it.
VIEWS.claims = (section, root) => {
  const PAGE = 200;
  const EVIDENCE_PREVIEW = 3;
  const FACET_PREVIEW = 30;
  const NONE = "";
  const FACETS = [
    { key: "stance", label: "Stance", of: (c) => [c.stance] },
    { key: "domain", label: "Domain", of: (c) => [c.domain ?? NONE] },
    { key: "topic", label: "Topic", of: (c) => (c.topics.length ? c.topics : [NONE]) },
    { key: "tag", label: "Tag", of: (c) => c.tags },
  ];
  const STANCES = new Set(["consensus", "contested"]);
  const CLAIM_ID = /^c-[0-9a-f]{10}$/;

  const byId = new Map(section.claims.map((claim) => [claim.id, claim]));
  const items = section.claims.map((claim) => ({
    claim,
    values: Object.fromEntries(FACETS.map((f) => [f.key, f.of(claim)])),
    haystack: [claim.text, claim.id, ...claim.keys, ...claim.arxiv, ...claim.cites_claims].join("\n").toLowerCase(),
  }));
  const state = { stance: null, domain: null, topic: null, tag: null, query: "", showHidden: false };
  const expandedFacets = new Set();
  let matches = [];
  let shown = 0;
  let facetCounts = null;

  // Header: the database's counts, whatever the filters.
  const counts = section.counts;
  const stat = (key, label) => {
    const node = h("div", "stat stat-" + key, h("span", "stat-value", formatCount(counts[key])), h("span", "stat-label", label));
    node.dataset.stat = key;
    node.dataset.value = String(counts[key]);
    return node;
  };
  const header = h(
    "header",
    "masthead",
    h(
      "div",
      "masthead-title",
      h("h1", null, "Claims"),
      h("p", "scope", section.run === null ? "Current observations of every run" : "Claims observed in run " + section.run),
    ),
    h("div", "stats", stat("claims", "claims"), stat("contested", "contested"), stat("domains", "domains"), stat("hidden", "hidden")),
  );
  const toggle = h("input", "show-hidden");
  toggle.type = "checkbox";
  if (counts.hidden > 0) {
    toggle.addEventListener("change", () => {
      state.showHidden = toggle.checked;
      recompute();
    });
    header.append(
      h(
        "label",
        "hidden-note",
        toggle,
        `Show the ${formatCount(counts.hidden)} hidden claims`,
        h("span", "why", " (hidden: no arXiv id, URL or linked record cited and no camp in a debate; uncited report statements)"),
      ),
    );
  }

  const facetsBox = h("aside", "facets");
  const search = h("input", "search");
  search.type = "search";
  search.placeholder = "Search text, claim id, citation…  ( / )";
  search.setAttribute("aria-label", "Search claims");
  const summary = h("p", "match-count");
  summary.setAttribute("aria-live", "polite");
  const clear = button("clear-filters", "Clear filters", () => {
    clearFilters();
    recompute();
  });
  const chips = h("div", "active-filters");
  const list = h("ol", "claim-list");
  const more = button("show-more", "", () => renderMore());
  const results = h("div", "results", h("div", "toolbar", search, clear), summary, chips, list, more);
  const view = h("section", "claims-view", header, h("div", "layout", facetsBox, results));
  view.id = "claims";
  root.append(view);

  function clearFilters() {
    for (const f of FACETS) state[f.key] = null;
    state.query = "";
    search.value = "";
  }

  function setFilter(facet, value) {
    // Measured before the list changes, while layout is still clean (measuring after costs a layout).
    const scrolledPast = results.getBoundingClientRect().top < 0;
    state[facet] = state[facet] === value ? null : value;
    recompute();
    if (scrolledPast) results.scrollIntoView();
  }

  function recompute() {
    const terms = state.query.toLowerCase().split(/\s+/).filter(Boolean);
    facetCounts = Object.fromEntries(FACETS.map((f) => [f.key, new Map()]));
    const add = (key, values) => {
      const tally = facetCounts[key];
      for (const v of values) tally.set(v, (tally.get(v) || 0) + 1);
    };
    matches = [];
    for (const item of items) {
      if (item.claim.hidden && !state.showHidden) continue;
      if (terms.length && !terms.every((t) => item.haystack.includes(t))) continue;
      // A facet's counts are what choosing that value would show, given the other filters.
      let misses = 0;
      let missed = null;
      for (const f of FACETS) {
        const wanted = state[f.key];
        if (wanted !== null && !item.values[f.key].includes(wanted)) {
          misses += 1;
          missed = f.key;
        }
      }
      if (misses === 0) {
        matches.push(item.claim);
        for (const f of FACETS) add(f.key, item.values[f.key]);
      } else if (misses === 1) {
        add(missed, item.values[missed]);
      }
    }
    renderFacets();
    renderActive();
    list.replaceChildren();
    shown = 0;
    renderMore();
  }

  function renderFacets() {
    facetsBox.replaceChildren(
      ...FACETS.map((f) => {
        const tally = facetCounts[f.key];
        const active = state[f.key];
        const entries = [...tally].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
        if (active !== null && !tally.has(active)) entries.unshift([active, 0]);
        const expanded = expandedFacets.has(f.key);
        const values = h("ul", "facet-values");
        for (const [value, n] of expanded ? entries : entries.slice(0, FACET_PREVIEW)) {
          const stance = f.key === "stance" && STANCES.has(value) ? " stance-" + value : "";
          const b = button("facet-value" + stance + (value === active ? " active" : ""), [
            h("span", "facet-label", value === NONE ? "(none)" : value),
            h("span", "facet-count", formatCount(n)),
          ]);
          b.dataset.facet = f.key;
          b.dataset.value = value;
          b.dataset.count = String(n);
          b.title = value === NONE ? "(none)" : value;
          b.setAttribute("aria-pressed", String(value === active));
          values.append(h("li", null, b));
        }
        const group = h("section", "facet", h("h2", null, f.label, h("span", "facet-size", formatCount(entries.length))), values);
        group.dataset.facet = f.key;
        if (entries.length > FACET_PREVIEW) {
          group.append(
            button("facet-toggle", expanded ? "Show fewer" : `Show all ${formatCount(entries.length)}`, () => {
              if (expanded) expandedFacets.delete(f.key);
              else expandedFacets.add(f.key);
              renderFacets();
            }),
          );
        }
        return group;
      }),
    );
  }

  function renderActive() {
    const active = FACETS.filter((f) => state[f.key] !== null).map((f) => {
      const chip = button("active-filter", `${f.label}: ${state[f.key] === NONE ? "(none)" : state[f.key]}  ×`, () => setFilter(f.key, state[f.key]));
      chip.title = "Remove this filter";
      return chip;
    });
    chips.replaceChildren(...active);
    clear.hidden = active.length === 0 && state.query === "";
  }

  function renderMore() {
    const page = matches.slice(shown, shown + PAGE);
    const fragment = document.createDocumentFragment();
    for (const claim of page) fragment.append(card(claim));
    if (matches.length === 0) fragment.append(h("li", "empty", "No claim matches these filters."));
    list.append(fragment);
    shown += page.length;
    const left = matches.length - shown;
    more.hidden = left <= 0;
    more.textContent = `Show ${formatCount(Math.min(PAGE, left))} more (${formatCount(left)} left)`;
    summary.dataset.matches = String(matches.length);
    summary.dataset.shown = String(shown);
    summary.dataset.query = state.query;
    summary.textContent =
      `${formatCount(matches.length)} matching claim${matches.length === 1 ? "" : "s"}` +
      (shown < matches.length ? `, showing the first ${formatCount(shown)}` : "");
  }

  // A claim a report statement cites: a link to its card when the page has it, else its id as text.
  function claimLink(id) {
    if (!CLAIM_ID.test(id) || !byId.has(id)) return h("span", "cite-key", "[" + id + "]");
    const link = h("a", "cite-key claim-link", "[" + id + "]");
    link.href = "#claim-" + id;
    return link;
  }

  function chip(facet, value) {
    const b = button("chip chip-" + facet, value);
    b.dataset.facet = facet;
    b.dataset.value = value;
    b.title = `Show only claims with ${facet} ${value}`;
    return b;
  }

  function card(c) {
    const node = h("li", "claim" + (c.hidden ? " is-hidden" : ""));
    node.id = "claim-" + c.id;
    node.dataset.claimId = c.id;
    node.append(
      h(
        "div",
        "claim-head",
        h("span", "badge " + (STANCES.has(c.stance) ? "stance-" + c.stance : "stance-other"), c.stance),
        c.domain ? chip("domain", c.domain) : null,
        h("span", "claim-id", c.id),
        c.hidden ? h("span", "hidden-mark", "hidden") : null,
      ),
      h("p", "claim-text", c.text),
    );
    const nSources = c.keys.length + c.arxiv.length;
    if (nSources > 0) {
      node.append(
        h(
          "p",
          "sources",
          h("span", "sources-label", `Sources · ${nSources}`),
          ...c.keys.map((k) => h("span", "cite-key", "[" + k + "]")),
          ...c.arxiv.map(arxivLink),
        ),
      );
    }
    if (c.cites_claims.length > 0) {
      node.append(h("p", "sources cited-claims", h("span", "sources-label", "Rests on claims"), ...c.cites_claims.map(claimLink)));
    }
    const meta = h("div", "claim-meta", h("span", "obs-count", `${formatCount(c.n_obs)} observation${c.n_obs === 1 ? "" : "s"}`));
    if (c.spawned) meta.append(h("span", "spawned", "↳ spawned: " + c.spawned));
    for (const topic of c.topics) meta.append(chip("topic", topic));
    for (const tag of c.tags) meta.append(chip("tag", tag));
    node.append(meta, evidenceBlock(c.evidence));
    return node;
  }

  // Current observations first, three then "+ N more"; superseded ones (from runs a later
  // run replaced, e.g. before a `run --topic`) stay folded behind a toggle and marked.
  function evidenceBlock(evidence) {
    const current = evidence.filter((e) => e.current);
    const earlier = evidence.filter((e) => !e.current);
    const entries = h("ul", "evidence-list", ...current.slice(0, EVIDENCE_PREVIEW).map((e) => evidenceItem(e)));
    const box = h("div", "evidence", h("h3", null, `Evidence (${current.length})`), entries);
    if (current.length === 0) box.append(h("p", "no-current", "No current observation: later runs superseded them all."));
    const rest = current.length - EVIDENCE_PREVIEW;
    if (rest > 0) {
      const expand = button("more-evidence", `+ ${rest} more`, () => {
        entries.append(...current.slice(EVIDENCE_PREVIEW).map((e) => evidenceItem(e)));
        expand.remove();
      });
      box.append(expand);
    }
    if (earlier.length > 0) {
      const label = (verb) => `${verb} ${earlier.length} earlier observation${earlier.length === 1 ? "" : "s"} (superseded)`;
      let folded = null;
      const toggle = button("earlier-evidence", label("Show"), () => {
        if (folded === null) {
          folded = h("ul", "evidence-list superseded", ...earlier.map((e) => evidenceItem(e, true)));
          box.append(folded);
        } else {
          folded.hidden = !folded.hidden;
        }
        toggle.textContent = label(folded.hidden ? "Show" : "Hide");
        toggle.setAttribute("aria-expanded", String(!folded.hidden));
      });
      toggle.dataset.count = String(earlier.length);
      toggle.setAttribute("aria-expanded", "false");
      box.append(toggle);
    }
    return box;
  }

  function evidenceItem(e, superseded = false) {
    const date = h("time", "date", e.date);
    date.dateTime = e.date;
    return h(
      "li",
      "evidence-item" + (superseded ? " is-superseded" : ""),
      h(
        "div",
        "evidence-head",
        superseded ? h("span", "superseded-mark", "superseded") : null,
        h("span", "kind", e.kind),
        e.topic ? h("span", "evidence-topic", e.topic) : null,
        e.arxiv ? arxivLink(e.arxiv) : null,
        e.field_path ? h("span", "field-path", "· " + e.field_path) : null,
        h("span", "model", e.model),
        date,
      ),
      h("blockquote", "excerpt", e.camp ? h("span", "camp", e.camp) : null, e.camp ? " " : null, e.excerpt),
    );
  }

  facetsBox.addEventListener("click", (event) => {
    const b = event.target.closest("button.facet-value");
    if (b) setFilter(b.dataset.facet, b.dataset.value);
  });
  list.addEventListener("click", (event) => {
    const b = event.target.closest("button.chip");
    if (b) setFilter(b.dataset.facet, b.dataset.value);
  });
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.query = search.value;
      recompute();
    }, 150);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== search) {
      event.preventDefault();
      search.focus();
    }
  });
  // The card of `#claim-ID`, built and scrolled to even if filters, paging or the hide rule kept it out.
  function reveal() {
    const found = /^#claim-(.+)$/.exec(location.hash);
    const claim = found ? byId.get(found[1]) : undefined;
    if (!claim) return;
    if (!matches.includes(claim)) {
      clearFilters();
      if (claim.hidden) state.showHidden = toggle.checked = true;
      recompute();
    }
    const index = matches.indexOf(claim);
    while (shown <= index) renderMore();
    for (const old of list.querySelectorAll(".claim.is-target")) old.classList.remove("is-target");
    const node = document.getElementById("claim-" + claim.id);
    node.classList.add("is-target");
    node.scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", reveal);
  // Following a link to the hash the page already has fires no hashchange.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#claim-']");
    if (link && link.getAttribute("href") === location.hash) {
      event.preventDefault();
      reveal();
    }
  });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((seen) => {
      if (!more.hidden && seen.some((s) => s.isIntersecting)) renderMore();
    }, { rootMargin: "600px" }).observe(more);
  }
  recompute();
  reveal();
};
