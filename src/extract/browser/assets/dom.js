// dom.js: building elements from data. Strings only ever become text nodes or
// attribute values; nothing here parses markup.

// A section's name -> function (data, root) that renders it into root.
const VIEWS = Object.create(null);

// Same rule as extract.browser.claims.ARXIV_ID: only these become links.
const ARXIV_ID = /^(?:\d{4}\.\d{4,5}|[a-z][a-z-]{0,15}(?:\.[A-Z]{2})?\/\d{7})$/;

function h(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// label: a string, a node, or a list of them.
function button(className, label, onClick) {
  const node = h("button", className, label);
  node.type = "button";
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

function arxivLink(id) {
  if (typeof id !== "string" || !ARXIV_ID.test(id)) return h("span", "arxiv", "arXiv ", String(id));
  const link = h("a", "arxiv", "arXiv ", id);
  link.href = "https://arxiv.org/abs/" + id;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

// One formatter: toLocaleString builds a new one on every call, which is slow.
const NUMBER = new Intl.NumberFormat("en-US");

function formatCount(n) {
  return NUMBER.format(n);
}
