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


@nox.session(default=False)
@nox.parametrize("service", [nox.param(s, tags=[s]) for s in SERVICES])
def build(session: nox.Session, service: str) -> None:
    """The service's Lambda artifact for python3.12: services/<service>/build/package and .zip."""
    out = ROOT / PACKAGES[service] / "build"
    package_dir = out / "package"
    shutil.rmtree(out, ignore_errors=True)
    package_dir.mkdir(parents=True)
    requirements = out / "requirements.txt"
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
        str(package_dir),
        "--python-platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON,
        "-r",
        str(requirements),
        external=True,
    )
    for name in os.listdir(package_dir):
        if name.split("-")[0].split(".")[0] in RUNTIME_PROVIDED:
            path = package_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    archive = shutil.make_archive(str(out / service), "zip", package_dir)
    session.log(f"{archive}: {Path(archive).stat().st_size / 1e6:.2f} MB")


@nox.session(default=False)
@nox.parametrize("service", [nox.param(s) for s in (*SERVICES, "platform")])
def deploy(session: nox.Session, service: str) -> None:
    """sam deploy one package: nox -s "deploy(service='payment')" -- --stage prod."""
    sync(session, "platform")
    session.install("aws-sam-cli")
    session.run("orderflow", "deploy", service, *session.posargs)
