"""Post-actions (keep / delete / move) and `.result.json`, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obtui.config.model import PostAction, RuleConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.post import apply_post_action, write_result_json
from obtui.engine.errors import CommandFailedError, PathEscapeError, PostActionError
from tests.helpers import action_context


def test_keep_leaves_the_file(bucket: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a")
    assert apply_post_action(src, bucket, PostAction("keep")) == src and src.exists()


def test_delete_file_folder_and_missing(bucket: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a")
    assert apply_post_action(src, bucket, PostAction("delete")) is None and not src.exists()
    assert apply_post_action(src, bucket, PostAction("delete")) is None  # already gone: fine
    folder = bucket / "drop"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x").write_text("x")
    assert apply_post_action(folder, bucket, PostAction("delete")) is None and not folder.exists()


def test_move_with_clashes(bucket: Path) -> None:
    for i in range(3):
        src = bucket / "in" / "report.tar.gz"
        src.parent.mkdir(exist_ok=True)
        src.write_text(str(i))
        dest = apply_post_action(src, bucket, PostAction("move", "processed/"))
        assert dest is not None and not src.exists() and dest.read_text() == str(i)
    names = sorted(p.name for p in (bucket / "processed").iterdir())
    assert names == ["report.tar-1.gz", "report.tar-2.gz", "report.tar.gz"]
    noext = bucket / "README"
    noext.write_text("r")
    (bucket / "processed" / "README").write_text("older")
    assert (
        apply_post_action(noext, bucket, PostAction("move", "processed")) == bucket / "processed" / "README-1"
    )


def test_move_to_absolute_folder_and_into_own_folder(bucket: Path, tmp_path: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a")
    done = tmp_path / "done" / "deep"
    assert apply_post_action(src, bucket, PostAction("move", str(done))) == done / "a.txt"
    again = done / "a.txt"
    assert apply_post_action(again, bucket, PostAction("move", str(done))) == again  # already there


def test_move_escape_rejected_and_missing_source(bucket: Path, tmp_path: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a")
    with pytest.raises(PathEscapeError):
        apply_post_action(src, bucket, PostAction("move", "../elsewhere"))
    (tmp_path / "outside").mkdir()
    (bucket / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(PathEscapeError):
        apply_post_action(src, bucket, PostAction("move", "link/processed"))
    assert src.exists() and not (tmp_path / "elsewhere").exists()
    with pytest.raises(PostActionError, match="gone.txt") as info:
        apply_post_action(bucket / "gone.txt", bucket, PostAction("move", "processed"))
    assert info.value.code == "ENOENT"


def _ctx(bucket: Path, src: Path, rule: RuleConfig) -> ActionContext:
    assert src.parent == bucket  # so the output folder is the bucket itself
    return action_context(
        bucket, src, rule, matched_pattern="*.json", max_file_size=1 << 20, attempt=2, obtui_version="1.2.3"
    )


def test_result_json_completed(bucket: Path) -> None:
    src = bucket / "job.json"
    src.write_text("{}")
    note = bucket / "job.obs.md"
    note.write_text("note")
    rule = RuleConfig(name="jobs", result_json=True)
    result = ActionResult(output_path=note, grep_matches=4, extra={"grep_tool": "python"})
    path = write_result_json(
        src,
        _ctx(bucket, src, rule),
        "COMPLETED",
        result,
        None,
        "2025-12-28T12:00:00.000Z",
        "2025-12-28T12:00:05.500Z",
    )
    assert path == bucket / "job.json.result.json"
    doc = json.loads(path.read_text())
    assert doc["final_status"] == "COMPLETED" and doc["source_path"] == str(src)
    assert doc["rule"] == "jobs" and doc["action"] == "note" and doc["output_path"] == str(note)
    assert doc["output_exists"] is True and doc["grep_matches"] == 4 and doc["failure_reason"] is None
    assert doc["duration_seconds"] == 5.5 and doc["exit_code"] is None and doc["error"] is None
    assert doc["_metadata"]["obtui_version"] == "1.2.3" and doc["_metadata"]["attempt"] == 2
    assert doc["_metadata"]["result_written_at"].endswith("Z")
    assert [p.name for p in bucket.iterdir() if p.name.startswith(".")] == []


def test_result_json_failed_command_and_without_ctx(bucket: Path) -> None:
    src = bucket / "job.json"
    src.write_text("{}")
    rule = RuleConfig(name="run", action="command", command=("tool", "{path}"))
    err = CommandFailedError(
        "Command 'tool' on job.json exited with code 3",
        code="exit 3",
        context={"exit_code": 3, "argv": ["tool", str(src)], "stderr_tail": "boom"},
    )
    path = write_result_json(
        src, _ctx(bucket, src, rule), "FAILED", None, err, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z"
    )
    doc = json.loads(path.read_text())
    assert doc["final_status"] == "FAILED" and doc["exit_code"] == 3 and doc["command"] == ["tool", str(src)]
    assert doc["failure_reason"] == "Command 'tool' on job.json exited with code 3"
    assert doc["error"]["name"] == "CommandFailedError" and doc["error"]["category"] == "ExternalTool"
    assert doc["error"]["stderr_tail"] == "boom" and doc["output_path"] is None
    # Inspection failed: no ctx, the rule passed on its own.
    path = write_result_json(src, None, "FAILED", None, OSError("disk on fire"), "x", "y", rule=rule)
    doc = json.loads(path.read_text())
    assert (
        doc["rule"] == "run" and doc["failure_reason"] == "disk on fire" and doc["duration_seconds"] is None
    )
