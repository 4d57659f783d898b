"""The four services share one shape: a newcomer who knows one service knows all four.

Checked from each package's source (its syntax tree) and, for what only running can show, by
importing its handler in a fresh interpreter.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from orderflow.contracts import SERVICES
from orderflow.platform.workspace import workspace_root

HANDLER_MAX_LINES = 15
OBSERVERS = {
    "payment": "PaymentObserver",
    "inventory": "InventoryObserver",
    "notifications": "NotificationsObserver",
    "analytics": "AnalyticsObserver",
}
SERVICE_FILES = (
    "__init__.py",
    "handler.py",
    "bootstrap.py",
    "domain.py",
    "ports.py",
    "adapters/__init__.py",
    "adapters/memory.py",
    "adapters/telemetry.py",
)
NOT_IN_THE_DOMAIN = ("aws_lambda_powertools", "boto3", "botocore", "orderflow.consumer")

pytestmark = pytest.mark.parametrize("service", SERVICES)


def package_dir(service: str) -> Path:
    spec = importlib.util.find_spec(f"orderflow.{service}")
    assert spec is not None
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def tree(service: str, name: str) -> ast.Module:
    return ast.parse((package_dir(service) / name).read_text())


def imported(module: ast.Module) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def classes(module: ast.Module) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in module.body if isinstance(node, ast.ClassDef)}


def test_every_service_has_the_same_files(service: str) -> None:
    missing = [name for name in SERVICE_FILES if not (package_dir(service) / name).is_file()]
    assert missing == []


def test_the_handler_only_wires_the_entry_point(service: str) -> None:
    source = (package_dir(service) / "handler.py").read_text()
    assert len(source.splitlines()) <= HANDLER_MAX_LINES
    module = ast.parse(source)
    statements = [
        node
        for node in module.body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    assert len(statements) == 1
    (assignment,) = statements
    assert isinstance(assignment, ast.Assign)
    assert [target.id for target in assignment.targets if isinstance(target, ast.Name)] == [
        "handler"
    ]
    call = assignment.value
    assert isinstance(call, ast.Call)
    assert isinstance(call.func, ast.Name)
    assert call.func.id == "LambdaEntry"
    assert [arg.id for arg in call.args if isinstance(arg, ast.Name)] == ["SERVICE", "service"]


def test_the_bootstrap_has_one_factory_and_names_the_service(service: str) -> None:
    bootstrap = importlib.import_module(f"orderflow.{service}.bootstrap")
    assert service == bootstrap.SERVICE
    public = {
        node.name
        for node in tree(service, "bootstrap.py").body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    }
    assert public == {"service", "build"}
    assert hasattr(bootstrap.service, "cache_clear")  # once per container


def test_the_domain_has_one_entry_and_no_infrastructure(service: str) -> None:
    domain = tree(service, "domain.py")
    leaks = sorted(
        name
        for name in imported(domain)
        if any(name == banned or name.startswith(f"{banned}.") for banned in NOT_IN_THE_DOMAIN)
    )
    assert leaks == []
    with_handle = [
        name
        for name, node in classes(domain).items()
        if any(isinstance(item, ast.FunctionDef) and item.name == "handle" for item in node.body)
    ]
    assert len(with_handle) == 1


def test_telemetry_goes_through_one_observer_port(service: str) -> None:
    ports = classes(tree(service, "ports.py"))
    assert OBSERVERS[service] in ports
    telemetry = classes(tree(service, "adapters/telemetry.py"))
    assert f"{service.capitalize()}Telemetry" in telemetry


def test_fakes_are_memory_adapters_and_settings_come_from_shared(service: str) -> None:
    fakes = classes(tree(service, "adapters/memory.py"))
    assert fakes
    assert [name for name in fakes if not name.startswith("Memory")] == []
    for path in package_dir(service).rglob("*.py"):
        module = ast.parse(path.read_text())
        names = classes(module)
        assert [n for n in names if n.startswith("InMemory")] == [], path.name
        assert [n for n in names if n.endswith(("ConfigError", "ConfigurationError"))] == []
        functions = {n.name for n in ast.walk(module) if isinstance(n, ast.FunctionDef)}
        assert "jittered_pause" not in functions, path.name  # one backoff: orderflow.retry


def test_importing_the_handler_does_not_import_boto3(service: str) -> None:
    # boto3 (sessions, clients) waits for the first record. botocore itself is imported by
    # Powertools' package logger at import, outside the services' reach.
    code = f"import sys, orderflow.{service}.handler; print('boto3' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"


def test_no_service_artifact_carries_test_support_or_moto(service: str) -> None:
    # What `nox -s build` installs into a zip: the service's locked runtime dependencies, every
    # optional feature included (payment's Stripe SDK), never a dev group.
    closure = runtime_closure(f"orderflow-{service}")
    assert f"orderflow-{service}" in closure
    assert "orderflow-shared" in closure
    assert sorted(closure & {"orderflow-testing", "orderflow-emulator", "moto", "pytest"}) == []


def runtime_closure(root: str) -> set[str]:
    """``root`` and everything it depends on in uv.lock, with all extras, without dev groups."""
    lock = tomllib.loads((workspace_root() / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    seen: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        package = packages[name]
        edges = list(package.get("dependencies", []))
        for extra in package.get("optional-dependencies", {}).values():
            edges.extend(extra)
        pending.extend(edge["name"] for edge in edges)
    return seen
