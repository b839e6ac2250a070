"""YAML front matter (`---` … `---`) at the top of Markdown and text files."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

from rag.errors import IngestError

_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body). Text without front matter comes back unchanged with empty metadata."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise IngestError(f"front matter is not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(meta, dict):
        raise IngestError("front matter must be a YAML mapping of keys to values")
    return {str(k): _plain(v) for k, v in meta.items()}, text[match.end() :]


def _plain(value: Any) -> Any:
    """YAML dates become ISO strings so metadata stays JSON- and Chroma-friendly."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
