"""Command line: `obtui [options] [DIR ...]`.

Imports are kept lazy: `obtui --report` must start fast and must never load Textual.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from obtui import __version__

EXAMPLES = """\
examples:
  obtui ./incoming ./uploads            open the dashboard, watching two buckets
  obtui --headless ./incoming           run without a terminal UI (systemd, containers)
  obtui --headless --once ./incoming    catch up and exit: 0 all succeeded, 1 some failed (cron)
  obtui --headless --metrics-listen 127.0.0.1:9464 ./incoming   also serve Prometheus /metrics
  obtui --report --since 24h            success report by directory, errors by category
  obtui --errors --limit 20 --json      the newest error records as JSON
  obtui --status                        is a runner alive, and its last snapshot
  obtui --check-config                  validate the config and print the effective rules
  obtui --status --cluster              every host of the cluster, queue lag, dead letters
  obtui --dlq / --dlq-retry all         the cluster's dead-lettered files; put them back
  obtui --init-config                   write the commented sample config to the default location

files:
  config   $OBTUI_CONFIG or {config}
  state    $OBTUI_STATE_DIR or {state}  (SQLite records, status.json, obtui.log)

exit codes: 0 ok · 1 some files failed (--once) · 2 usage or config error · 3 no runner (--status)
"""


def build_parser() -> argparse.ArgumentParser:
    from obtui.config.locations import default_config_path, default_state_dir

    p = argparse.ArgumentParser(
        prog="obtui",
        description=(
            "Watch bucket folders and process every dropped file exactly once, by the rules in a "
            "TOML config; every success and failure is kept on record."
        ),
        epilog=EXAMPLES.format(config=default_config_path(), state=default_state_dir()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "dirs", nargs="*", type=Path, metavar="DIR", help="bucket folders to watch (added to the config's)"
    )
    mode = p.add_argument_group("modes (default: the full-screen dashboard)")
    mode.add_argument("--headless", action="store_true", help="run without the terminal UI until signalled")
    mode.add_argument("--once", action="store_true", help="with --headless: catch up every bucket, then exit")
    mode.add_argument(
        "--report", action="store_true", help="success report by directory + errors by category"
    )
    mode.add_argument("--errors", action="store_true", help="list error records, newest first")
    mode.add_argument("--status", action="store_true", help="is a runner alive; its last status snapshot")
    mode.add_argument("--metrics", action="store_true", help="the latest metrics")
    mode.add_argument(
        "--check-config", action="store_true", help="validate the config, print effective rules"
    )
    mode.add_argument("--init-config", action="store_true", help="write the sample config (never overwrites)")
    c = p.add_argument_group("cluster mode (several hosts on one shared bucket, coordinated by Redis)")
    c.add_argument(
        "--cluster",
        nargs="?",
        const="",
        metavar="URL",
        help="turn cluster mode on with this Redis URL (else $OBTUI_REDIS_URL or [cluster] redis); "
        "with --status, --report or --errors: answer for every host of the cluster",
    )
    c.add_argument("--dlq", action="store_true", help="list the cluster's dead-lettered files")
    c.add_argument(
        "--dlq-retry",
        metavar="KEY",
        help="put a dead-lettered file back in the queue (KEY from --dlq, or all)",
    )
    q = p.add_argument_group("report options")
    q.add_argument("--since", metavar="WHEN", help="only records since: 30m, 24h, 7d, an ISO date, or 'all'")
    q.add_argument("--limit", type=int, metavar="N", help="with --errors: at most N records, N >= 1 (50)")
    q.add_argument("--category", metavar="NAME", help="with --errors: only this category (e.g. FileAccess)")
    q.add_argument("--json", action="store_true", help="print JSON instead of text")
    o = p.add_argument_group("settings")
    o.add_argument("--config", type=Path, metavar="FILE", help="config file (default: see below)")
    o.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="where records and status live (default: see below)"
    )
    o.add_argument("--concurrency", metavar="N", help="processing workers, 1 to 256 (overrides [runner])")
    o.add_argument(
        "--poll-seconds",
        metavar="S",
        help='poll every S seconds (at least 0.1, or "2s") instead of native events (NFS, SMB); 0: native',
    )
    o.add_argument(
        "--metrics-listen", metavar="ADDR", help="serve Prometheus /metrics on HOST:PORT ([metrics])"
    )
    o.add_argument("-v", "--verbose", action="store_true", help="log every outcome on stderr (headless)")
    p.add_argument("--version", action="version", version=f"obtui {__version__}")
    _add_upkeep_options(p)
    return p


# ---- --retry / --forget / --prune (issue 12: what operators reach for) -------------------------

UPKEEP_HELP = """records: retry, forget, prune
  obtui --retry failed                  every file whose latest outcome is a failure; one that
                                        on_failure = "move:failed/" moved is brought back first
  obtui --retry ERR-2026-02-18-042345-001 ./incoming/a.txt
                                        by error id (see --errors) or path (its old or moved path)
  obtui --forget ./incoming/a.txt       the next run processes the file again
  obtui --forget ./incoming             ... every file of that bucket (or folder)
  obtui --prune 90d                     remove success/error records older than 90 days
  obtui --prune 0s                      remove every record ([store] keep = "90d" does it daily)
  a running runner takes a retry within a second or two; without one, the next start does;
  exit 1 when a WHAT or PATH names nothing on record
"""


def _add_upkeep_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("records (see 'records' below)")
    g.add_argument(
        "--retry",
        nargs="+",
        metavar="WHAT",
        help="process again: 'failed' (every failed file), an error id ERR-..., or a path",
    )
    g.add_argument(
        "--forget", nargs="+", metavar="PATH", help="forget a file, or every file of a bucket/folder"
    )
    g.add_argument(
        "--prune", metavar="AGE", help="remove records older than AGE (90d; 0s for all); keep the manifest"
    )
    p.epilog = (p.epilog or "") + "\n" + UPKEEP_HELP


def _upkeep(args: argparse.Namespace, state_dir: Path) -> int | None:
    """Run --retry / --forget / --prune when asked for (None when none was)."""
    from obtui.cli import upkeep

    if args.retry:
        return upkeep.cmd_retry(state_dir, args.retry)
    if args.forget:
        return upkeep.cmd_forget(state_dir, args.forget)
    if args.prune is not None:
        return upkeep.cmd_prune(state_dir, args.prune)
    return None


def _state_dir(args: argparse.Namespace) -> Path:
    from obtui.config.locations import default_state_dir

    return Path(args.state_dir).expanduser().resolve() if args.state_dir else Path(default_state_dir())


# Modes that each answer on their own; at most one may be given (--once implies --headless).
MODES = ("headless", "report", "errors", "status", "metrics", "check_config", "init_config")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_combination(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse (exit 2) modes that cannot combine and options their mode does not use, rather than
    letting one silently win."""
    given = [m for m in MODES if getattr(args, m)]
    if args.once and "headless" not in given:
        given.insert(0, "headless")
    if len(given) > 1:
        flags = [_flag(m) + (" (or --once)" if m == "headless" and args.once else "") for m in given]
        parser.error(f"{' and '.join(flags)} cannot be combined: each is a mode of its own; choose one")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit: expected a number of records of at least 1, got {args.limit}")
    for option in ("limit", "category"):
        if getattr(args, option) is not None and not args.errors:
            parser.error(f"{_flag(option)} only applies to --errors")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_combination(args, parser)
    if args.once and not args.headless:
        args.headless = True  # --once only makes sense without a UI
    state_dir = _state_dir(args)
    if args.cluster and "://" not in args.cluster:  # `obtui --cluster ./incoming`: a DIR, no URL
        args.dirs.insert(0, Path(args.cluster))
        args.cluster = ""
    try:
        from obtui.cli.cluster import wants_cluster_view

        if wants_cluster_view(args):
            return _reports(args, state_dir)
        if (done := _upkeep(args, state_dir)) is not None:
            return done
        if args.report or args.errors or args.status or args.metrics:
            return _reports(args, state_dir)
        if args.init_config:
            return _init_config(args)
        return _run(args, state_dir, parser)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `obtui --errors | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _reports(args: argparse.Namespace, state_dir: Path) -> int:
    from obtui.cli import reports as r

    try:
        since = r.parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"obtui: --since: {exc}", file=sys.stderr)
        return 2
    from obtui.cli.cluster import wants_cluster_view

    if wants_cluster_view(args):
        from obtui.cli import cluster

        try:
            category = r.normalise_category(args.category) if args.category else None
        except ValueError as exc:
            print(f"obtui: --category: {exc}", file=sys.stderr)
            return 2
        return cluster.run(args, since, category)
    if args.report:
        return r.cmd_report(state_dir, since, args.json)
    if args.errors:
        limit = 50 if args.limit is None else args.limit
        return r.cmd_errors(state_dir, since, limit, args.json, category=args.category)
    if args.status:
        return r.cmd_status(state_dir, args.json)
    return r.cmd_metrics(state_dir, args.json)


def _init_config(args: argparse.Namespace) -> int:
    from obtui.config.locations import default_config_path
    from obtui.config.sample import write_sample_config

    dest = Path(args.config) if args.config else Path(default_config_path())
    try:
        written = write_sample_config(dest)
    except FileExistsError as exc:
        print(f"obtui: {exc}", file=sys.stderr)
        return 2
    import shlex

    check = "obtui --check-config" + (f" --config {shlex.quote(str(args.config))}" if args.config else "")
    print(f"wrote the sample config to {written}; edit it, then run: {check}")
    return 0


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The effective config: file (or defaults) + CLI dirs + CLI overrides, all checked alike."""
    from obtui.config.loader import load_config
    from obtui.config.overrides import apply_cli, with_metrics_listen

    config = load_config(args.config, required=args.config is not None)
    config = apply_cli(config, list(args.dirs), concurrency=args.concurrency, poll_seconds=args.poll_seconds)
    config = _with_cluster(args, config)
    if config.cluster is not None:
        _unique_bucket_ids(config)
    if args.metrics_listen is not None:
        config = with_metrics_listen(config, args.metrics_listen)
    return config


def _unique_bucket_ids(config):  # type: ignore[no-untyped-def]
    """Cluster mode: buckets named on the command line take their folder's name as id."""
    from obtui.config.errors import ConfigError, Problem

    seen: dict[str, Path] = {}
    for b in config.buckets:
        other = seen.setdefault(b.cluster_id, b.path)
        if other != b.path:
            raise ConfigError(
                [
                    Problem(
                        None,
                        None,
                        None,
                        "DIR",
                        f"{b.path} and {other} would share the cluster bucket id {b.cluster_id!r}; "
                        'list them as [[buckets]] with distinct id = "..." in the config',
                    )
                ]
            )


def _with_cluster(args: argparse.Namespace, config):  # type: ignore[no-untyped-def]
    """Cluster mode from `--cluster URL` or $OBTUI_REDIS_URL (over [cluster] redis)."""
    import dataclasses

    from obtui.cli.cluster import resolve_url

    url = resolve_url(args.cluster, None)
    if not url:
        if args.cluster == "" and config.cluster is None:
            from obtui.config.errors import ConfigError, Problem

            raise ConfigError(
                [
                    Problem(
                        None,
                        None,
                        None,
                        "--cluster",
                        "no Redis URL: pass --cluster URL, set "
                        '$OBTUI_REDIS_URL or add [cluster] redis = "redis://..." to the config',
                    )
                ]
            )
        return config
    from obtui.config.checks import Invalid
    from obtui.config.cluster import default_host, redis_url
    from obtui.config.errors import ConfigError, Problem
    from obtui.config.model import ClusterConfig

    try:
        url = redis_url(url)
    except Invalid as exc:
        raise ConfigError([Problem(None, None, None, "--cluster", str(exc))]) from None
    cluster = (
        dataclasses.replace(config.cluster, redis=url)
        if config.cluster is not None
        else ClusterConfig(redis=url, host=default_host())
    )
    return dataclasses.replace(config, cluster=cluster)


def _unusable(state_dir: Path) -> str | None:
    """Why the runner could not keep its records in `state_dir` (created if missing), or None."""
    import os

    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(state_dir, os.W_OK | os.X_OK):
        return "not writable by this user"
    return None


def _run(args: argparse.Namespace, state_dir: Path, parser: argparse.ArgumentParser) -> int:
    from obtui.config.errors import ConfigError

    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"obtui: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    from obtui.config.advice import config_warnings

    warnings = config_warnings(config)
    if args.check_config:
        from obtui.config.describe import describe_config

        print(describe_config(config))
        for warning in warnings:
            print(f"obtui: warning: {warning}", file=sys.stderr)
        return 0
    if args.once and config.cluster is not None:
        print(
            "obtui: --once does not apply to a cluster host: the hosts share one queue, so a host "
            "cannot tell when the cluster is caught up.\n"
            "  Run each host as a service (obtui --headless); see 'Running a cluster' in the README.",
            file=sys.stderr,
        )
        return 2
    for warning in warnings:  # a runner says it too, once, at start (the log keeps it)
        print(f"obtui: warning: {warning}", file=sys.stderr)
    if not config.buckets:
        print(
            "obtui: no bucket folders to watch.\n"
            "  Name them on the command line:   obtui ./incoming ./uploads\n"
            "  or add [[buckets]] to a config:  obtui --init-config   (then edit it)",
            file=sys.stderr,
        )
        return 2
    problem = _unusable(state_dir)
    if problem:
        print(
            f"obtui: cannot use the state dir {state_dir}: {problem}\n"
            "  Choose another with --state-dir DIR or $OBTUI_STATE_DIR.",
            file=sys.stderr,
        )
        return 2
    if args.headless:
        from obtui.cli.headless import run_headless

        return run_headless(
            config, state_dir, once=args.once, cli_buckets=list(args.dirs), verbose=args.verbose
        )
    from obtui.tui.launch import run_tui

    return run_tui(config, state_dir, cli_buckets=list(args.dirs))
