"""Finding the files (and URLs) an ingest run covers, and naming each one's `source`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .load import LOADERS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One thing to ingest: a file under a root, or a URL."""

    source: str
    path: Path | None = None
    url: str | None = None


@dataclass(frozen=True)
class Discovery:
    targets: tuple[Target, ...]
    scopes: tuple[str, ...]  # source prefixes this run is authoritative for (vanished files are removed)
    skipped: tuple[tuple[str, str], ...]  # (name, reason) for unsupported files
    failed: tuple[tuple[str, str], ...]  # (name, reason) for refused paths


def is_url(arg: str) -> bool:
    return arg.startswith(("http://", "https://"))


def discover(args: list[str]) -> Discovery:
    targets: list[Target] = []
    scopes: list[str] = []
    skipped: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    for arg in args:
        if is_url(arg):
            targets.append(Target(source=arg, url=arg))
            scopes.append(arg)
            continue
        root = Path(arg)
        if not root.exists():
            failed.append((arg, "no such file or folder"))
            continue
        if root.is_file():
            if root.suffix.lower() in LOADERS:
                targets.append(Target(source=root.name, path=root))
                scopes.append(root.name)
            else:
                skipped.append((arg, f"unsupported file type {root.suffix or '(none)'!r}"))
            continue
        real_root = root.resolve()
        name = real_root.name or "root"
        scopes.append(name + "/")
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue
                path = Path(dirpath) / filename
                relative = path.relative_to(root).as_posix()
                source = f"{name}/{relative}"
                if path.suffix.lower() not in LOADERS:
                    skipped.append((source, f"unsupported file type {path.suffix or '(none)'!r}"))
                    continue
                if path.is_symlink():
                    target = path.resolve()
                    if not target.is_relative_to(real_root):
                        failed.append((source, f"symlink to {target} points outside {root}: refused"))
                        continue
                if not path.is_file():
                    failed.append((source, "not a regular file (broken symlink?)"))
                    continue
                targets.append(Target(source=source, path=path))
    return Discovery(tuple(targets), tuple(scopes), tuple(skipped), tuple(failed))


def in_scope(source: str, scopes: tuple[str, ...]) -> bool:
    return any(source == s or (s.endswith("/") and source.startswith(s)) for s in scopes)
