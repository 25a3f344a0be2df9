"""The effective configuration as text, for `obtui --check-config`."""

from __future__ import annotations

from obtui.config.cluster import masked_url
from obtui.config.model import DEFAULT_IGNORES, Config, RuleConfig
from obtui.config.units import spell_duration, spell_size


def _list(items: tuple[str, ...]) -> str:
    return ", ".join(items) if items else "(none)"


def _line(line: int | None) -> str:
    return f"  (line {line})" if line else ""


def _processes(n: int) -> str:
    return f"{n} process writes notes in a burst" if n == 1 else f"{n} processes write notes in a burst"


def _runner_lines(config: Config) -> list[str]:
    r = config.runner
    rows = [
        ("concurrency", f"{r.concurrency} files at a time"),
        (
            "note_processes",
            _processes(min(r.note_processes, r.concurrency))
            if r.note_processes
            else "0 (notes are written in the engine's threads)",
        ),
        ("debounce_ms", f"{spell_duration(r.debounce_ms / 1000)} of quiet before a file is ready"),
        ("max_delay_ms", f"{spell_duration(r.max_delay_ms / 1000)} at most for a file that keeps changing"),
        ("rescan_seconds", f"full scan every {spell_duration(r.rescan_seconds)}"),
        (
            "poll_seconds",
            f"poll every {spell_duration(r.poll_seconds)}" if r.poll_seconds else "0 (native file events)",
        ),
        ("max_file_size", spell_size(r.max_file_size)),
        ("max_queue_size", f"{r.max_queue_size:_} files"),
        ("shutdown_grace_seconds", spell_duration(r.shutdown_grace_seconds)),
        ("retry_base_seconds", spell_duration(r.retry_base_seconds)),
        ("retry_max_seconds", spell_duration(r.retry_max_seconds)),
        ("breaker_threshold", f"{r.breaker_threshold} failures in a row"),
        ("breaker_reset_seconds", spell_duration(r.breaker_reset_seconds)),
        ("metrics_interval_seconds", spell_duration(r.metrics_interval_seconds)),
        ("status_interval_seconds", spell_duration(r.status_interval_seconds)),
        ("ignore", _list(r.ignore)),
    ]
    width = max(len(k) for k, _ in rows)
    return ["[runner]"] + [f"  {k.ljust(width)}  {v}" for k, v in rows]


def _rule_lines(n: int, rule: RuleConfig) -> list[str]:
    rows: list[tuple[str, str]] = [
        ("patterns", _list(rule.patterns)),
        ("ignore", _list(rule.ignore)),
        ("gitignore", "yes (.gitignore files in the bucket apply)" if rule.gitignore else "no"),
        ("action", rule.action),
    ]
    if rule.action == "command":
        rows.append(("command", " ".join(_arg(a) for a in rule.command)))
    else:
        rows.append(("grep", f'"{rule.grep}"' if rule.grep else "(off)"))
    rows += [
        ("output_dir", rule.output_dir or "(next to each file)"),
        ("on_success", str(rule.on_success)),
        ("on_failure", str(rule.on_failure)),
        ("timeout", spell_duration(rule.timeout)),
        ("retries", str(rule.retries)),
    ]
    if rule.tags:
        rows.append(("tags", _list(rule.tags)))
    extras = [
        name
        for name, on in (("result_json", rule.result_json), ("folder_summary", rule.folder_summary))
        if on
    ]
    if extras:
        rows.append(("also writes", ", ".join(extras)))
    rows.append(("buckets", _list(rule.buckets) if rule.buckets else "(all)"))
    width = max(len(k) for k, _ in rows)
    return [f"  {n}. {rule.name}{_line(rule.line)}"] + [f"       {k.ljust(width)}  {v}" for k, v in rows]


def _arg(a: str) -> str:
    return a if a and not any(c.isspace() or c in "\"'\\" for c in a) else '"' + a.replace('"', '\\"') + '"'


def describe_config(config: Config) -> str:
    """Render the effective configuration: source, runner settings, buckets, rules and ignores."""
    out = [f"Config file: {config.source}" if config.source else "Config file: none (built-in defaults)", ""]
    out += _runner_lines(config)
    if (c := config.cluster) is not None:
        out += [
            "",
            f"[cluster]{_line(c.line)}",
            f"  redis           {masked_url(c.redis)}",
            f"  host            {c.host}",
            f"  lease           {spell_duration(c.lease_seconds)} without renewal before another host takes over",
            f"  max_deliveries  {c.max_deliveries} deliveries without an outcome, then the dead-letter stream",
        ]
    out += ["", f"Buckets ({len(config.buckets)}):"]
    if not config.buckets:
        out.append("  (none in the config: pass folders on the command line)")
    for b in config.buckets:
        how = "recursive" if b.recursive else "top level only"
        if b.poll_seconds is not None:
            how += (
                f", poll every {spell_duration(b.poll_seconds)}" if b.poll_seconds else ", native file events"
            )
        if config.cluster is not None:
            how += f", cluster id {b.cluster_id}"
        out.append(f"  {b.path}  ({how}){_line(b.line)}")
    out += ["", "Rules (the first rule whose patterns match a file wins):"]
    for n, rule in enumerate(config.rules, start=1):
        out += _rule_lines(n, rule)
    out += [
        "",
        "Always ignored: " + ", ".join(DEFAULT_IGNORES),
        "  plus the processed/ and failed/ folders, and each rule's output_dir and move: folders",
        "  inside the bucket.",
        f"UI theme: {config.ui.theme}",
        "Records kept: "
        + (
            f"{spell_duration(config.store.keep)} (older ones pruned daily)"
            if config.store.keep
            else "forever"
        ),
        "Prometheus metrics: "
        + (f"/metrics on {config.metrics.listen}" if config.metrics.listen else "off ([metrics] listen)"),
    ]
    return "\n".join(out) + "\n"
