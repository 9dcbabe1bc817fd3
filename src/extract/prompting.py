"""Prompt templates: loading them from `prompts/`, hashing them, rendering them.

A template is a text file with `=== system ===` and `=== user ===` sections and
`${name}` placeholders (string.Template). Its version is the SHA-256 of its
bytes, so any edit changes the cache key of every request made with it.
Dump text is only ever a substituted value: it is never parsed as a template,
and it sits between boundary lines derived from its own hash, which the dump
cannot contain.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from extract.errors import ConfigError

_SECTION = re.compile(r"^=== (system|user) ===\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    content_hash: str
    system: Template
    user: Template

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled; a missing value is an error."""
        try:
            return [
                {"role": "system", "content": self.system.substitute(values)},
                {"role": "user", "content": self.user.substitute(values)},
            ]
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"prompt {self.name}: cannot fill placeholder {exc}") from exc


def load_prompt(prompts_dir: Path, name: str) -> PromptTemplate:
    path = prompts_dir / f"{name}.md"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"prompt template not found: {path}") from exc
    text = raw.decode("utf-8")
    parts = _SECTION.split(text)
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise ConfigError(f"{path}: needs exactly one '=== system ===' and one '=== user ===' section")
    return PromptTemplate(
        name=name,
        content_hash=hashlib.sha256(raw).hexdigest(),
        system=Template(sections["system"]),
        user=Template(sections["user"]),
    )


def data_boundary(chunk_text: str) -> str:
    """A boundary marker the data cannot forge: it depends on the data's own hash."""
    return "<<<DATA-" + hashlib.sha256(chunk_text.encode("utf-8")).hexdigest()[:16] + ">>>"
