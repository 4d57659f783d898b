"""Artifact size: each function's deployment zip, as ``nox -s build`` makes it.

Sizes are in MB (10^6 bytes), the unit Lambda's limits use; what the zip holds is grouped by its
top-level directory, so the report can say which packages make up the size. The build leaves out
what Lambda puts on the function's path itself (``LEFT_OUT``), and the figure says, from the zip,
which of those it indeed left out.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from orderflow.bench.stats import BenchError

MB = 1_000_000
METADATA_GROUP = "(package metadata)"
LEFT_OUT: tuple[tuple[str, str], ...] = (
    ("boto3", "the Lambda runtime provides it"),
    ("botocore", "the Lambda runtime provides it"),
    ("aws_lambda_powertools", "the public Powertools layer provides it, at the locked version"),
)
"""Top-level packages a function uses that its zip should not carry, and who provides them."""


@dataclass(frozen=True)
class ArtifactSize:
    """One zip: its size, what it unpacks to, and the unpacked bytes per top-level entry."""

    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    by_entry: tuple[tuple[str, int], ...]

    @property
    def zipped_mb(self) -> float:
        return self.zipped_bytes / MB

    @property
    def unzipped_mb(self) -> float:
        return self.unzipped_bytes / MB

    def carries(self, entry: str) -> bool:
        """Whether the zip holds the top-level package or module ``entry``."""
        return any(name == entry for name, _ in self.by_entry)

    def left_out(self) -> list[str]:
        """What of ``LEFT_OUT`` the zip does not carry, each with who provides it."""
        return [f"{name} ({why})" for name, why in LEFT_OUT if not self.carries(name)]

    def largest(self, count: int) -> list[tuple[str, float]]:
        """The ``count`` largest top-level entries, in MB unzipped."""
        return [(name, size / MB) for name, size in self.by_entry[:count]]


def entry_group(member: str) -> str:
    """The top-level entry a zip member belongs to (all ``*.dist-info`` count as metadata)."""
    top = member.split("/", 1)[0]
    if top.endswith((".dist-info", ".egg-info")):
        return METADATA_GROUP
    return top.removesuffix(".py") if "/" not in member else top


def artifact_size(path: Path) -> ArtifactSize:
    """Measure the zip at ``path``."""
    if not path.is_file():
        raise BenchError(f"no artifact at {path}; nox -s bench (or build) makes it")
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as exc:
        raise BenchError(f"{path} is not a zip: {exc}") from exc
    groups: Counter[str] = Counter()
    for info in members:
        groups[entry_group(info.filename)] += info.file_size
    return ArtifactSize(
        path=path,
        zipped_bytes=path.stat().st_size,
        unzipped_bytes=sum(info.file_size for info in members),
        by_entry=tuple(groups.most_common()),
    )
