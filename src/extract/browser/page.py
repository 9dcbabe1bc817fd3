"""The HTML document: one file with its style, script and data inline.

Data travels as JSON in a `<script type="application/json">` block, with every
character that could end that block or start markup escaped, and is rendered by
DOM calls that set text, never markup. The Content-Security-Policy allows only
this page's own style and script (by hash): no fetch, image, frame or form, and
Trusted Types forbid HTML strings reaching any sink.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib.resources import files
from typing import Any

_ASSETS = files("extract.browser") / "assets"
_PLACEHOLDER = re.compile(r"\{\{ (\w+) \}\}")
# JSON never has these outside strings; inside strings their \u escapes mean the same.
_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def script_safe_json(data: Any) -> str:
    """JSON that can sit inside a <script> element: nothing in it can close the element."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_UNSAFE)


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(script: str, style: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {_sha256_source(script)}",
            f"style-src {_sha256_source(style)}",
            "base-uri 'none'",
            "form-action 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        )
    )


def _view_scripts(section_names: list[str]) -> str:
    """The shared helpers, each section's view, then the start-up that renders them in order."""
    names = ["dom.js", *(f"{name}.js" for name in section_names), "main.js"]
    script = '"use strict";\n(() => {\n' + "\n".join(_asset(n) for n in names) + "})();\n"
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("a view script would end its <script> element early")
    return script


def render_page(title: str, sections: dict[str, Any]) -> str:
    """The document for these sections (name -> data), rendered in this order."""
    style = _asset("page.css")
    if "</style" in style.lower():
        raise ValueError("page.css would end its <style> element early")
    script = _view_scripts(list(sections))
    values = {
        # In a double-quoted attribute: single quotes stay readable.
        "CSP": html.escape(content_security_policy(script, style), quote=False).replace('"', "&quot;"),
        "TITLE": html.escape(title),
        "STYLE": style,
        "SCRIPT": script,
        "DATA": script_safe_json({"title": title, "order": list(sections), "sections": sections}),
    }
    # One pass: text substituted in is never scanned for placeholders again.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("page.html"))
