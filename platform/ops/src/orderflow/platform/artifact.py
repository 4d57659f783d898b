"""A Lambda zip: bytecode compiled by the runtime's own Python, the same bytes every build.

Lambda's code directory (``/var/task``) is read-only, so a zip without bytecode makes every cold
start compile every module it imports. This script compiles the installed tree with the
interpreter that runs it (``nox -s build`` runs it with the runtime's Python, so the ``.pyc``
files carry that interpreter's magic number and cache tag), as unchecked-hash pycs (no source
timestamps inside, and no source read at import), with the source paths they will have on
Lambda; then it writes the zip with sorted entries, fixed timestamps and fixed modes, so the same
lock gives the same bytes. It refuses to write a zip in which any module lacks its bytecode.

Standard library only: it runs by path under any interpreter, with nothing installed::

    python3.12 platform/ops/src/orderflow/platform/artifact.py TREE ZIP
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import io
import os
import py_compile
import sys
import zipfile
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

TASK_ROOT = "/var/task"
"""Where Lambda unpacks the zip: the source path the compiled code reports in tracebacks."""

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip entry can carry: every entry gets it, so builds compare equal."""

FILE_MODE = 0o644
DIRECTORY_MODE = 0o755


class ArtifactError(Exception):
    """The tree cannot become a deployable zip; the message says why in one line."""


def sources(tree: Path) -> Iterator[Path]:
    """Every ``.py`` file under ``tree``, in a stable order."""
    for directory, names, files in os.walk(tree):
        names.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory) / name


def bytecode_path(source: Path) -> Path:
    """Where this interpreter imports ``source``'s bytecode from."""
    return Path(importlib.util.cache_from_source(str(source)))


def compile_tree(tree: Path, task_root: str = TASK_ROOT) -> None:
    """Compile every module under ``tree`` for this interpreter, as unchecked-hash pycs.

    A file that is not valid Python for this interpreter (some distributions ship templates or
    Python 2 examples as ``.py``) cannot be imported either, so it is left without bytecode and
    ``missing_bytecode`` names it only if it is importable.
    """
    with redirect_stdout(io.StringIO()):
        compileall.compile_dir(
            tree,
            quiet=2,
            stripdir=str(tree),
            prependdir=task_root,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            workers=1,
        )


def missing_bytecode(tree: Path) -> list[Path]:
    """Modules under ``tree`` without bytecode for this interpreter that it could import."""
    missing = []
    for source in sources(tree):
        if bytecode_path(source).is_file():
            continue
        try:
            compile(source.read_bytes(), str(source), "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue  # not Python this interpreter runs: it could not be imported either
        missing.append(source.relative_to(tree))
    return missing


def write_zip(tree: Path, archive: Path) -> None:
    """Zip ``tree`` into ``archive``: sorted entries, fixed times and modes."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        for directory, names, files in os.walk(tree):
            names.sort()
            base = Path(directory)
            for name in sorted(files):
                path = base / name
                entry = zipfile.ZipInfo(path.relative_to(tree).as_posix(), ZIP_EPOCH)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = (0o100000 | FILE_MODE) << 16
                entry.create_system = 3  # unix, so the mode above is read as one
                zipped.writestr(entry, path.read_bytes(), compresslevel=9)


def build(tree: Path, archive: Path, task_root: str = TASK_ROOT) -> list[Path]:
    """Compile ``tree``, check every module has bytecode, write ``archive``; return the sources."""
    if not tree.is_dir():
        raise ArtifactError(f"{tree} is not a directory to package")
    compile_tree(tree, task_root)
    missing = missing_bytecode(tree)
    if missing:
        shown = ", ".join(str(path) for path in missing[:3])
        raise ArtifactError(
            f"{len(missing)} modules have no {sys.implementation.cache_tag} bytecode "
            f"(e.g. {shown}); refusing to write a zip that compiles on every cold start"
        )
    write_zip(tree, archive)
    return list(sources(tree))


def main(argv: list[str] | None = None) -> int:
    """Build the zip; print its size, or a one-line error and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="the function's installed code")
    parser.add_argument("zip", type=Path, help="the zip to write")
    parser.add_argument("--task-root", default=TASK_ROOT, help="where Lambda unpacks the zip")
    args = parser.parse_args(argv)
    try:
        modules = build(args.tree, args.zip, args.task_root)
    except (ArtifactError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = args.zip.stat().st_size / 1e6
    print(
        f"{args.zip}: {size:.2f} MB, {len(modules)} modules compiled for "
        f"{sys.implementation.cache_tag}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
