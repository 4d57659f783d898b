"""moto's own tests as the referee: every emulator extension installed, nothing moto pins broken.

A pytest plugin (``-p orderflow.emulator.conformance``) for a run of the tests that the
sdist of the locked moto version ships (``nox -s conformance`` downloads and runs them). Before
collection it installs every extension the embedded AWS installs, on AWS time (clock factor 1).
A moto test that fails only with the extensions is a bug, unless ``conformance.toml`` (beside
this module) lists it:

* ``[[deviation]]``: the extensions move deliberately toward AWS's documented behaviour; the test
  must fail (strict xfail: a listed test that passes again means the entry is stale), and the
  entry cites the AWS document; ``strict = false`` marks a test whose outcome depends on a race
  AWS has too (an execution that may or may not have finished when the test reads it);
* ``[[needs]]``: the test needs what a run here cannot have (Docker, the network) and does not
  pass on plain moto either; it is deselected.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

LISTING = Path(__file__).with_name("conformance.toml")


@dataclass(frozen=True)
class Listed:
    """One test ``conformance.toml`` names, and why."""

    test: str
    reason: str
    reference: str = ""
    strict: bool = True


@dataclass(frozen=True)
class Listing:
    """The deliberate deviations and the tests a run here cannot pass."""

    deviations: dict[str, Listed]
    needs: dict[str, Listed]


def read_listing(path: Path = LISTING) -> Listing:
    """``conformance.toml``; every deviation must cite an AWS reference."""
    data = tomllib.loads(path.read_text())
    deviations = {}
    for entry in data.get("deviation", []):
        listed = Listed(
            entry["test"], entry["reason"], entry.get("aws", ""), entry.get("strict", True)
        )
        if not listed.reference.startswith("https://docs.aws.amazon.com/"):
            raise ValueError(f"{path}: deviation {listed.test} cites no AWS document")
        deviations[listed.test] = listed
    needs = {e["test"]: Listed(e["test"], e["reason"]) for e in data.get("needs", [])}
    return Listing(deviations, needs)


def pytest_configure(config: pytest.Config) -> None:
    """Install every extension before moto's tests are even imported."""
    from orderflow.emulator.clock import EmulatorClock  # noqa: PLC0415
    from orderflow.emulator.server import install_extensions  # noqa: PLC0415

    if not config.getoption("conformance_plain"):
        install_extensions(EmulatorClock(1.0))
    config.stash[_LISTING] = read_listing()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--conformance-plain",
        action="store_true",
        help="run on plain moto, no extension installed (to compare results)",
    )


_LISTING = pytest.StashKey[Listing]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect what needs Docker or the network; expect each deliberate deviation to fail."""
    listing = config.stash[_LISTING]
    plain = config.getoption("conformance_plain")
    kept, deselected = [], []
    for item in items:
        if item.nodeid in listing.needs:
            deselected.append(item)
            continue
        deviation = listing.deviations.get(item.nodeid)
        if deviation is not None and not plain:
            item.add_marker(
                pytest.mark.xfail(
                    strict=deviation.strict,
                    reason=f"{deviation.reason} ({deviation.reference})",
                )
            )
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = kept
