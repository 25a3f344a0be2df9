"""Which files a bucket processes, and with which rule.

All matching is done on the path relative to the bucket root ('/'-separated), in gitignore syntax
(via pathspec): `*.txt` matches at any depth, `docs/**/*.rst` is anchored, `drafts/` matches a
folder and everything below it. We never use watchdog's PatternMatchingEventHandler: it matches
absolute paths with `PurePath.full_match`, so `*` matches nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pathspec import PathSpec
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from obtui.config.model import DEFAULT_IGNORES, Config, RuleConfig

# Folders obtui itself writes into by default (move:processed/, move:failed/).
STATE_FOLDERS = ("/processed/", "/failed/")


def _spec(patterns: list[str] | tuple[str, ...]) -> PathSpec:
    # pathspec picks RE2 on its own when google-re2 is installed (it is, for the rules' grep), but
    # its RE2 backend raises on a name that is not valid UTF-8 (a surrogate escape): Python's re.
    return PathSpec.from_lines(GitIgnoreSpecPattern, patterns, backend="simple")


@dataclass(frozen=True)
class Match:
    rule: RuleConfig
    pattern: str


class _CompiledRule:
    __slots__ = ("rule", "patterns", "ignore", "buckets")

    def __init__(self, rule: RuleConfig, base: Path | None) -> None:
        self.rule = rule
        self.patterns = [(p, _spec([p])) for p in rule.patterns]
        self.ignore = _spec(list(rule.ignore)) if rule.ignore else None
        self.buckets = {_resolve(b, base) for b in rule.buckets}

    def match(self, bucket: str, rel: str) -> str | None:
        if self.buckets and bucket not in self.buckets:
            return None
        if self.ignore is not None and self.ignore.match_file(rel):
            return None
        for pattern, spec in self.patterns:
            if spec.match_file(rel):
                return pattern
        return None


def _resolve(p: str, base: Path | None) -> str:
    path = Path(os.path.expanduser(p))
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return str(path.resolve())


def _inside(rel_target: str) -> str | None:
    """A config folder (output_dir, move target) as an ignore pattern, when it is relative."""
    t = rel_target.strip().replace("\\", "/")
    if not t or os.path.isabs(t):
        return None
    t = t.strip("/")
    if t in ("", "."):
        return None
    return "/" + t + "/"


class GitIgnores:
    """The `.gitignore` files inside one bucket, read lazily and re-read when they change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, tuple[int, _GitRules | None]] = {}

    def _spec_for(self, rel_dir: str) -> _GitRules | None:
        f = self.root / rel_dir / ".gitignore" if rel_dir else self.root / ".gitignore"
        try:
            mtime = f.stat().st_mtime_ns
        except OSError:
            self._cache[rel_dir] = (-1, None)
            return None
        cached = self._cache.get(rel_dir)
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            spec: _GitRules | None = _git_rules(f.read_text(errors="replace").splitlines())
        except Exception:  # an unreadable .gitignore must not stop processing
            spec = None
        self._cache[rel_dir] = (mtime, spec)
        return spec

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        """Git's answer for `rel`: deeper .gitignore files override shallower ones, and nothing
        below an ignored folder can be re-included."""
        parts = rel.split("/")
        # A file under an ignored folder is ignored.
        for i in range(1, len(parts)):
            if self._decide("/".join(parts[:i]), True):
                return True
        return self._decide(rel, is_dir)

    def _decide(self, rel: str, is_dir: bool) -> bool:
        parts = rel.split("/")
        verdict = False
        for depth in range(len(parts)):
            rel_dir = "/".join(parts[:depth])
            spec = self._spec_for(rel_dir)
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            res = _self_match(spec, sub)
            if res is not None:
                verdict = res
        return verdict


# Fixes below were found by tests/reliability/test_patterns_property.py (GitIgnores against
# `git check-ignore` on generated trees). pathspec lets a pattern match everything *below* a
# folder it matches, which is right for one flat ignore check but wrong here, where
# `GitIgnores.ignored` decides each parent folder on its own first:
#   - `a` + `!b/`: pathspec re-included the file `b/a` (`!b/` "matched" it); git ignores it.
#   - `b/` + `!b/**`: pathspec re-included the folder `b` itself; git keeps it ignored.
#   - `a/**/`: pathspec matched the folder `a` itself; git only the folders below it.
#   - one invalid line made the whole file count as empty; git skips just that line.
_GitRules = list[tuple[bool, "re.Pattern[str]", bool]]  # (include, regex, anchored at the end)


def _git_line(line: str) -> str:
    """`a/**/` as pathspec needs it to mean what git means: folders below `a` (`a/**/*/`)."""
    stripped = line.rstrip(" ")
    if stripped.endswith("/**/") and not stripped.endswith("\\/**/"):
        return stripped + "*/"
    return line


def _git_rules(lines: list[str]) -> _GitRules:
    rules: _GitRules = []
    for line in lines:
        try:
            pattern = GitIgnoreSpecPattern(_git_line(line))
        except Exception:  # git ignores an invalid line and keeps the rest
            continue
        rx = pattern.regex
        if pattern.include is None or rx is None:
            continue
        if "ps_d" in rx.groupindex:
            # The folder marker must end the path: the pattern matches `sub` itself, not a
            # folder above it.
            rules.append((bool(pattern.include), re.compile(f"(?:{rx.pattern})$", rx.flags), True))
        else:
            rules.append((bool(pattern.include), rx, False))
    return rules


def _self_match(rules: _GitRules, sub: str) -> bool | None:
    """The verdict of the last rule that matches `sub` itself (folders end in '/'), or None."""
    verdict: bool | None = None
    for include, rx, anchored in rules:
        m = rx.search(sub)
        if m is None:
            continue
        if not anchored and sub.endswith("/") and m.group(0) == sub:
            continue  # `b/**` (regex `^b/`) against the folder `b/` itself: git says no
        verdict = include
    return verdict


MATCH_CACHE = 8192


class Matcher:
    """Rule lookup for every bucket of one configuration. Immutable: a reload builds a new one."""

    def __init__(self, config: Config) -> None:
        base = config.source.parent if config.source else None
        self.rules = [_CompiledRule(r, base) for r in config.rules]
        extra = [p for p in (_inside(r.output_dir or "") for r in config.rules) if p]
        for r in config.rules:
            for post in (r.on_success, r.on_failure):
                if post.kind == "move" and post.target and (p := _inside(post.target)):
                    extra.append(p)
        self.ignore_patterns = (*DEFAULT_IGNORES, *STATE_FOLDERS, *config.runner.ignore, *extra)
        self._ignore = _spec(list(self.ignore_patterns))
        self._use_gitignore = any(r.gitignore for r in config.rules)
        self._gitignores: dict[str, GitIgnores] = {}
        # A file is matched several times on its way (intake, dispatch, processing): the answer
        # of the patterns is kept for the latest MATCH_CACHE paths.
        self._matches: dict[tuple[str, str], tuple[Match, ...]] = {}

    def _git(self, bucket: str) -> GitIgnores:
        g = self._gitignores.get(bucket)
        if g is None:
            g = self._gitignores[bucket] = GitIgnores(Path(bucket))
        return g

    def ignored(self, bucket: str, rel: str, is_dir: bool = False) -> bool:
        """True for our own outputs/state, hidden and temporary names, and configured ignores."""
        return bool(self._ignore.match_file(rel + "/" if is_dir else rel))

    def dir_pruned(self, bucket: str, rel_dir: str) -> bool:
        """Whether a scan may skip a whole folder."""
        if self.ignored(bucket, rel_dir, is_dir=True):
            return True
        # gitignore only prunes when every rule honours it.
        if self._use_gitignore and all(r.rule.gitignore for r in self.rules):
            return self._git(bucket).ignored(rel_dir, is_dir=True)
        return False

    def match(self, bucket: str, rel: str) -> Match | None:
        """The first rule that takes `rel` in `bucket`, or None (ignored or no rule matches)."""
        key = (bucket, rel)
        candidates = self._matches.get(key)
        if candidates is None:
            candidates = self._candidates(bucket, rel)
            if len(self._matches) >= MATCH_CACHE:
                self._matches.clear()
            self._matches[key] = candidates
        git_ignored: bool | None = None
        for match in candidates:
            if match.rule.gitignore:
                if git_ignored is None:
                    git_ignored = self._git(bucket).ignored(rel)
                if git_ignored:
                    continue
            return match
        return None

    def _candidates(self, bucket: str, rel: str) -> tuple[Match, ...]:
        """The rules whose patterns take `rel`, in order, up to the first that does not defer to
        .gitignore files (those change; the patterns of one configuration do not)."""
        if self.ignored(bucket, rel):
            return ()
        found: list[Match] = []
        for cr in self.rules:
            pattern = cr.match(bucket, rel)
            if pattern is not None:
                found.append(Match(cr.rule, pattern))
                if not cr.rule.gitignore:
                    break
        return tuple(found)

    def folder_rule(self, bucket: str, rel_dir: str) -> Match | None:
        """The first folder-summary rule that takes the top-level folder `rel_dir`."""
        if self.ignored(bucket, rel_dir, is_dir=True):
            return None
        for cr in self.rules:
            if not cr.rule.folder_summary:
                continue
            pattern = cr.match(bucket, rel_dir + "/") or cr.match(bucket, rel_dir)
            if pattern is not None:
                return Match(cr.rule, pattern)
        return None
