"""orderflow sessions: one set per package, plus templates, build, deploy, demo, e2e and bench.

Every per-package session installs that package and its declared dependencies only
(``uv sync --package``), so an undeclared dependency fails here instead of hiding behind
another package's environment.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PACKAGES = {
    "shared": "shared",
    "platform": "platform",
    "payment": "services/payment",
    "inventory": "services/inventory",
    "notifications": "services/notifications",
    "analytics": "services/analytics",
}
SERVICES = ("payment", "inventory", "notifications", "analytics")
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "x86_64-manylinux_2_28"
# The Lambda runtime ships boto3 and what it depends on; a zip that carries them only grows.
RUNTIME_PROVIDED = (
    "boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "python_dateutil", "six",
)  # fmt: skip


def distribution(package: str) -> str:
    return f"orderflow-{package}"


def sync(session: nox.Session, package: str) -> None:
    """Install ``package``, its declared dependencies and the dev tools into the session venv."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--package",
        distribution(package),
        "--group",
        "dev",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


def package_params() -> list[object]:
    return [nox.param(p, tags=[p]) for p in PACKAGES]


@nox.session(python=False, tags=["ci"])
def lock(session: nox.Session) -> None:
    """uv.lock matches every pyproject.toml."""
    session.run("uv", "lock", "--check")


@nox.session
@nox.parametrize("package", package_params())
def tests(session: nox.Session, package: str) -> None:
    """Unit and functional tests of one package (e2e excluded)."""
    sync(session, package)
    path = PACKAGES[package]
    session.run(
        "pytest", f"{path}/tests", "-m", "not e2e", "-p", "no:cacheprovider", *session.posargs
    )


@nox.session
@nox.parametrize("package", package_params())
def lint(session: nox.Session, package: str) -> None:
    """ruff check and ruff format --check over one package."""
    sync(session, package)
    path = PACKAGES[package]
    session.run("ruff", "check", path)
    session.run("ruff", "format", "--check", path)


@nox.session
@nox.parametrize("package", package_params())
def typecheck(session: nox.Session, package: str) -> None:
    """mypy --strict over one package's source."""
    sync(session, package)
    path = PACKAGES[package]
    session.run("mypy", f"{path}/src", env={"MYPYPATH": f"{path}/src"})


def templates_paths() -> list[str]:
    return [
        str(p / "template.yaml")
        for p in map(Path, PACKAGES.values())
        if (p / "template.yaml").exists()
    ]


@nox.session(tags=["templates"])
def templates(session: nox.Session) -> None:
    """cfn-lint, checkov (every skip justified inline) and the project's template rules."""
    sync(session, "platform")
    session.install("cfn-lint>=1.20", "checkov>=3.2")
    paths = templates_paths()
    if not paths:
        session.skip("no template.yaml yet")
    session.run("cfn-lint", *paths)
    for path in paths:
        session.run(
            "checkov",
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "-f",
            path,
            "--skip-download",
        )
    session.run("python", "-m", "orderflow.platform.template_rules", *paths)


def install_function(
    session: nox.Session,
    service: str,
    target: Path,
    *,
    python_version: str = LAMBDA_PYTHON,
    python_platform: str | None = LAMBDA_PLATFORM,
    keep_runtime_provided: bool = False,
) -> Path:
    """Install ``service`` and its locked dependencies into ``target`` as its function runs them.

    For Lambda by default (python3.12, manylinux, without what the runtime provides); the
    benchmarks also install it for the session's interpreter, with boto3, to time its imports.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    requirements = target.parent / f"{target.name}-requirements.txt"
    session.run(
        "uv",
        "export",
        "--frozen",
        "--no-dev",
        "--no-editable",
        "--no-hashes",
        "--no-header",
        "--package",
        distribution(service),
        "-o",
        str(requirements),
        external=True,
    )
    session.run(
        "uv",
        "pip",
        "install",
        "--quiet",
        # Workspace sources install members editable; an artifact needs them as real files.
        "--no-sources",
        "--target",
        str(target),
        *(("--python-platform", python_platform) if python_platform else ()),
        "--python-version",
        python_version,
        "-r",
        str(requirements),
        external=True,
    )
    if not keep_runtime_provided:
        for name in os.listdir(target):
            if name.split("-")[0].split(".")[0] in RUNTIME_PROVIDED:
                path = target / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    return target


def build_artifact(session: nox.Session, service: str, out: Path) -> Path:
    """The service's Lambda artifact: ``out/package`` and ``out/<service>.zip``."""
    shutil.rmtree(out, ignore_errors=True)
    package_dir = install_function(session, service, out / "package")
    archive = Path(shutil.make_archive(str(out / service), "zip", package_dir))
    session.log(f"{archive}: {archive.stat().st_size / 1e6:.2f} MB")
    return archive


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """The Black Friday demo on the local runtime: nox -s demo [-- --orders 200 --json]."""
    sync(session, "platform")
    session.run("orderflow", "demo", *session.posargs)


@nox.session(tags=["e2e"])
def e2e(session: nox.Session) -> None:
    """End-to-end tests: the local runtime under fault injection, reconciled (small profile)."""
    sync(session, "platform")
    session.run(
        "pytest", "platform/tests/e2e", "-m", "e2e", "-p", "no:cacheprovider", *session.posargs
    )


@nox.session(default=False)
@nox.parametrize("service", [nox.param(s, tags=[s]) for s in SERVICES])
def build(session: nox.Session, service: str) -> None:
    """The service's Lambda artifact for python3.12: services/<service>/build/package and .zip."""
    build_artifact(session, service, ROOT / PACKAGES[service] / "build")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: cold start, per-record cost, local throughput, artifact size, cost on AWS.

    Prints one table and writes the same figures to bench-results/. Not a test: a missed target
    does not fail the session (a figure that could not be measured does). Arguments after --
    go to ``python -m orderflow.platform.bench`` (e.g. ``-- --skip throughput``).
    """
    sync(session, "platform")
    out = ROOT / "bench-results"
    interpreter = session.run(
        "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True
    )
    for service in SERVICES:
        build_artifact(session, service, out / "artifacts" / service)
        # Imports are timed on this interpreter, with boto3 where the Lambda runtime has it.
        install_function(
            session,
            service,
            out / "images" / service,
            python_version=str(interpreter).strip(),
            python_platform=None,
            keep_runtime_provided=True,
        )
    session.run(
        "python",
        "-m",
        "orderflow.platform.bench",
        "--root",
        str(ROOT),
        "--out",
        str(out),
        *session.posargs,
    )


@nox.session(default=False)
@nox.parametrize("service", [nox.param(s) for s in (*SERVICES, "platform")])
def deploy(session: nox.Session, service: str) -> None:
    """sam deploy one package: nox -s "deploy(service='payment')" -- --stage prod."""
    sync(session, "platform")
    session.install("aws-sam-cli")
    session.run("orderflow", "deploy", service, *session.posargs)
