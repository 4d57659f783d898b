"""The operator CLI stands on shared and the platform library alone."""

from __future__ import annotations

import importlib
import subprocess
import sys

from click.testing import CliRunner

cli_main = importlib.import_module("orderflow.platform.cli.main")  # the module, not main()

NOT_FOR_OPERATORS = (
    "orderflow.emulator",
    "orderflow.local",
    "orderflow.bench",
    "orderflow.testing",
)


def test_importing_the_cli_loads_no_emulator_runtime_or_test_support() -> None:
    code = (
        "import sys, orderflow.platform.cli.main; "
        f"print(sorted(m for m in sys.modules if m.startswith({NOT_FOR_OPERATORS!r}) "
        "or m.split('.')[0] in ('moto', 'samtranslator')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_a_command_of_a_distribution_not_installed_names_it(monkeypatch) -> None:
    monkeypatch.setattr(cli_main, "_plugins", dict)

    result = CliRunner().invoke(cli_main.cli, ["up"])

    assert result.exit_code == 2
    assert "'orderflow up' comes with orderflow-local, which is not installed" in result.output
