"""The emulator stands alone: neither its code nor its tests import another orderflow package.

Its own nox session installs it with the dev tools only, so any such import would fail there;
this says which file, before the session does.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def foreign_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
        found += [
            n for n in names if n.startswith("orderflow") and not n.startswith("orderflow.emulator")
        ]
    return found


def test_no_module_or_test_imports_another_orderflow_package() -> None:
    files = [*(PACKAGE_ROOT / "src").rglob("*.py"), *(PACKAGE_ROOT / "tests").rglob("*.py")]
    assert len(files) > 20
    offenders = {str(p.relative_to(PACKAGE_ROOT)): i for p in files if (i := foreign_imports(p))}
    assert offenders == {}
