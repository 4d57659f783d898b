"""Where the orderflow checkout is: the one place that finds it.

``sam deploy`` and the local runtime read each package's ``template.yaml`` from the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from orderflow.platform.errors import PlatformError

ROOT_ENV = "ORDERFLOW_ROOT"


class WorkspaceNotFoundError(PlatformError):
    """No orderflow checkout (``platform/template.yaml`` beside ``services/``) was found."""


def _is_root(directory: Path) -> bool:
    return (directory / "platform" / "template.yaml").is_file() and (
        directory / "services"
    ).is_dir()


def workspace_root(start: Path | None = None) -> Path:
    """The checkout holding ``platform/template.yaml`` and ``services/``.

    ``ORDERFLOW_ROOT`` wins; otherwise ``start`` (the current directory by default) and this
    package's own location (an editable install lives in the checkout) are searched upwards.
    """
    if os.environ.get(ROOT_ENV):
        root = Path(os.environ[ROOT_ENV])
        if not _is_root(root):
            raise WorkspaceNotFoundError(f"{ROOT_ENV}={root} holds no platform/template.yaml")
        return root
    for candidate in ((start or Path.cwd()).resolve(), Path(__file__).resolve()):
        for directory in (candidate, *candidate.parents):
            if _is_root(directory):
                return directory
    raise WorkspaceNotFoundError(
        "no orderflow checkout found (platform/template.yaml and services/); run from the "
        f"repository or set {ROOT_ENV}"
    )
