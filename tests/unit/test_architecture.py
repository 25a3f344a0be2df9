"""The architecture rules a machine can check: the import contracts of pyproject.toml
(`lint-imports`), module sizes, the engine's flat module count and the package docstrings.

A violation fails `make test`, so CI catches it, not a reviewer."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

from tests.helpers import ROOT

OBTUI = ROOT / "obtui"
MAX_MODULE_LINES = 400
MAX_ENGINE_MODULES = 12

# `python -m importlinter.cli` would exit 0 without checking anything (the module has no
# `__main__` block), so call the console script's function and let it exit with its code.
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"


def test_import_contracts_are_kept():
    """Every contract in [tool.importlinter] holds; the output names the offending import chain."""
    proc = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-logo", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"lint-imports failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    assert "0 broken" in proc.stdout, proc.stdout


def test_the_contracts_the_redesign_requires_are_configured():
    """Deleting or weakening a contract in pyproject.toml is caught here, not silently kept."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == "obtui"
    assert config["include_external_packages"] is True
    assert config["exclude_type_checking_imports"] is True
    by_type: dict[str, list[dict]] = {}
    for contract in config["contracts"]:
        by_type.setdefault(contract["type"], []).append(contract)

    forbidden = {
        (src, bad)
        for c in by_type["forbidden"]
        for src in c["source_modules"]
        for bad in c["forbidden_modules"]
    }
    for src in ("api", "hosting", "engine", "config", "tracking", "cli"):
        assert (f"obtui.{src}", "textual") in forbidden
        assert (f"obtui.{src}", "rich") in forbidden
    for src in ("engine", "tracking", "config"):
        assert (f"obtui.{src}", "obtui.tui") in forbidden
        assert (f"obtui.{src}", "obtui.cli") in forbidden
    for src in ("tracking", "config"):
        assert (f"obtui.{src}", "obtui.engine") in forbidden
        assert (f"obtui.{src}", "obtui.hosting") in forbidden
    for bad in ("obtui.engine", "obtui.hosting.server", "obtui.cli"):
        assert ("obtui.tui", bad) in forbidden
    acyclic = {a for c in by_type["acyclic_siblings"] for a in c["ancestors"]}
    assert {"obtui.engine", "obtui.tui"} <= acyclic


def test_no_module_is_over_400_lines():
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in sorted(OBTUI.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_engine_has_at_most_12_modules_directly_inside():
    modules = sorted(p.name for p in (OBTUI / "engine").glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= MAX_ENGINE_MODULES, (
        f"{len(modules)} modules directly in obtui/engine/ (at most {MAX_ENGINE_MODULES}): {modules}"
    )


def test_every_package_says_in_one_line_what_lives_there():
    """Each package's `__init__.py` opens with a docstring whose first line is the summary."""
    folders = {p.parent for p in OBTUI.rglob("*.py") if "__pycache__" not in p.parts}
    missing = [str(f.relative_to(ROOT)) for f in sorted(folders) if not (f / "__init__.py").exists()]
    for init in sorted(OBTUI.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        first = doc.splitlines()[0].strip() if doc else ""
        if not first or len(first) > 110:
            missing.append(str(init.relative_to(ROOT)))
    assert not missing, f"package folders missing an __init__.py or its one-line docstring summary: {missing}"
