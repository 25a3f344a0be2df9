"""Exceptions raised while processing a file, each knowing its error category.

The processor turns any of these into an `ErrorRecord` (`to_error_fields`); anything else that
escapes an action is recorded as a System error with its stack.
"""

from __future__ import annotations

from typing import Any

from obtui.tracking.records import Category


class ProcessingError(Exception):
    """A failure with a user-facing message.

    - `category`: the error category for the record.
    - `transient`: worth retrying with backoff (file busy, vanished-then-back, timeout, exit != 0).
    - `counts_for_breaker`: a failure of the rule itself (its tool), not of one odd input file.
    - `suggestion`: one line telling the user what to do about it.
    """

    category: Category = Category.SYSTEM
    transient: bool = False
    counts_for_breaker: bool = False
    component: str = "Processor"
    operation: str = "process"
    suggestion: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        context: dict[str, Any] | None = None,
        suggestion: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.context = dict(context or {})
        if suggestion is not None:
            self.suggestion = suggestion
        if operation is not None:
            self.operation = operation

    @property
    def name(self) -> str:
        return type(self).__name__


# --- the input file itself ---------------------------------------------------------------


class FileVanishedError(ProcessingError):
    category = Category.FILE_ACCESS
    transient = True  # it may be back in a moment (vanished-then-back)
    operation = "readFile"
    suggestion = "The file was removed or renamed before obtui could read it."


class PermissionDeniedError(ProcessingError):
    category = Category.FILE_ACCESS
    operation = "readFile"
    suggestion = "Give the obtui user read permission on the file (chmod/chown), then touch it."


class FileBusyError(ProcessingError):
    category = Category.FILE_ACCESS
    transient = True
    operation = "readFile"
    suggestion = "Another program holds the file; obtui retries, then gives up."


class NotRegularFileError(ProcessingError):
    category = Category.FILE_ACCESS
    operation = "inspectFile"
    suggestion = "Only regular files are processed; FIFOs, sockets and devices are skipped."


class SymlinkEscapeError(ProcessingError):
    category = Category.FILE_ACCESS
    operation = "inspectFile"
    suggestion = "Symlinks are followed only when they stay inside the bucket."


class FileTooLargeError(ProcessingError):
    category = Category.FILE_CONTENT
    operation = "inspectFile"
    suggestion = "Raise [runner] max_file_size in the config if such files are expected."


class EmptyFileError(ProcessingError):
    category = Category.FILE_CONTENT
    operation = "inspectFile"
    suggestion = "The file is empty; it will be processed when it has content."


class EncodingFallbackWarning(ProcessingError):
    """Not fatal: the note was written with a fallback decoding. Recorded as INFO."""

    category = Category.FILE_CONTENT
    operation = "decodeText"
    suggestion = "The file is not valid UTF-8; the note shows it decoded as Latin-1."
    fallback: str | None = "decoded as latin-1"  # read by the processor as the recovery step


class GrepAbandonedWarning(ProcessingError):
    """Not fatal: the rule's grep ran too long on this file and was stopped; the note was written
    without matches. Recorded as INFO."""

    category = Category.CONFIGURATION
    component = "Note"
    operation = "grep"
    suggestion = (
        "Simplify the rule's grep pattern: without backreferences or look-around it runs on RE2, "
        "in linear time, and can never stall."
    )
    fallback: str | None = "note written without grep matches"


# --- the rule's tool ----------------------------------------------------------------------


class CommandNotFoundError(ProcessingError):
    category = Category.EXTERNAL_TOOL
    counts_for_breaker = True
    component = "Command"
    operation = "runCommand"
    suggestion = "Install the program or give its full path in the rule's command list."


class CommandFailedError(ProcessingError):
    category = Category.EXTERNAL_TOOL
    transient = True
    counts_for_breaker = True
    component = "Command"
    operation = "runCommand"
    suggestion = "Run the command by hand on the file to see why it fails (stderr is in the record)."


class CommandTimeoutError(ProcessingError):
    category = Category.EXTERNAL_TOOL
    transient = True
    counts_for_breaker = True
    component = "Command"
    operation = "runCommand"
    suggestion = "Raise the rule's timeout, or check the command does not wait for input."


# --- outputs and the machine ---------------------------------------------------------------


class OutputError(ProcessingError):
    """Writing an output failed (disk full, read-only, permission)."""

    category = Category.SYSTEM
    transient = True  # a full disk or a remounted folder can recover: retry, then the breaker waits
    counts_for_breaker = True
    operation = "writeOutput"
    suggestion = "Check free space and permissions of the output folder."


class PathEscapeError(ProcessingError):
    """An output_dir or move: target resolved outside the bucket through `..` or a symlink."""

    category = Category.CONFIGURATION
    operation = "resolveOutput"
    suggestion = "Keep output_dir and move: targets inside the bucket (or give an absolute path)."


class PostActionError(ProcessingError):
    category = Category.FILE_ACCESS
    component = "PostAction"
    operation = "postAction"
    suggestion = "Check the bucket's permissions; the file was processed but not moved/deleted."


class GrepPatternError(ProcessingError):
    """A rule's `grep` is not a valid regular expression (Python `re` syntax)."""

    category = Category.CONFIGURATION
    counts_for_breaker = True
    component = "Note"
    operation = "compileGrep"
    suggestion = "Fix the rule's grep pattern (Python regular expression syntax)."


# --- the engine's own failures (not one file's) ---------------------------------------------


class BucketMissingError(ProcessingError):
    """A watched bucket folder vanished (or could not be watched)."""

    category = Category.FILE_ACCESS
    component = "Watcher"
    operation = "watchDirectory"
    suggestion = "Create the folder again; obtui resumes watching it by itself."


class ConfigReloadError(ProcessingError):
    """An edited config failed validation; the previous rules stay in force."""

    category = Category.CONFIGURATION
    component = "Config"
    operation = "reloadConfig"
    suggestion = "Fix the config file; the previous rules stay in force until then."


class RetryError(ProcessingError):
    """A retry asked for (`obtui --retry`, the dashboard) could not be carried out."""

    category = Category.FILE_ACCESS
    component = "Retry"
    operation = "retryFile"
    suggestion = "Put the file back at its path (or drop it into the bucket again); it is then processed."
