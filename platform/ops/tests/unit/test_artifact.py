"""The Lambda zip: bytecode for the interpreter that builds it, the same bytes every build."""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import zipfile
from pathlib import Path

import pytest

from orderflow.platform.artifact import ArtifactError, build, main

PYC_HEADER = 16


def function_tree(root: Path) -> Path:
    """A small installed function: a package, a top-level module and a file that is no Python."""
    tree = root / "package"
    (tree / "orderflow" / "demo").mkdir(parents=True)
    (tree / "orderflow" / "demo" / "__init__.py").write_text("")
    (tree / "orderflow" / "demo" / "handler.py").write_text(
        "def handler(event, context):\n    return {'batchItemFailures': []}\n"
    )
    (tree / "helpers.py").write_text("VALUE = 1\n")
    (tree / "legacy_example.py").write_text("print 'python 2 only'\n")
    (tree / "dist-0.1.dist-info").mkdir()
    (tree / "dist-0.1.dist-info" / "METADATA").write_text("Name: dist\n")
    return tree


def test_two_builds_of_the_same_code_are_byte_identical(tmp_path):
    # GIVEN the same code installed twice, at different places and times
    first = function_tree(tmp_path / "a")
    second = function_tree(tmp_path / "b")
    for path in second.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    # WHEN each is built
    build(first, tmp_path / "a.zip")
    build(second, tmp_path / "b.zip")
    # THEN the zips are the same bytes
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_every_module_ships_bytecode_for_the_building_interpreter(tmp_path):
    tree = function_tree(tmp_path)
    build(tree, tmp_path / "fn.zip")
    with zipfile.ZipFile(tmp_path / "fn.zip") as zipped:
        names = set(zipped.namelist())
    tag = sys.implementation.cache_tag
    for module in ("orderflow/demo/__init__", "orderflow/demo/handler", "helpers"):
        directory, _, stem = module.rpartition("/")
        prefix = f"{directory}/" if directory else ""
        assert f"{prefix}__pycache__/{stem}.{tag}.pyc" in names
    # A file this interpreter cannot compile could not be imported either: shipped as it is.
    assert "legacy_example.py" in names
    assert not any(name.startswith("__pycache__/legacy_example") for name in names)


def test_bytecode_is_unchecked_and_names_the_lambda_source_path(tmp_path):
    # Unchecked-hash pycs are used without reading the source (Lambda's /var/task is read-only
    # and its mtimes say nothing), and tracebacks name the file where Lambda unpacks it.
    tree = function_tree(tmp_path)
    build(tree, tmp_path / "fn.zip")
    source = tree / "orderflow" / "demo" / "handler.py"
    data = Path(importlib.util.cache_from_source(str(source))).read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    assert flags == 0b01  # hash-based, check_source off
    code = marshal.loads(data[PYC_HEADER:])
    assert code.co_filename == "/var/task/orderflow/demo/handler.py"


def test_a_module_without_bytecode_is_refused_and_no_zip_is_written(tmp_path):
    tree = function_tree(tmp_path)
    # A file where the cache directory should be: nothing can be compiled next to helpers.py.
    (tree / "__pycache__").write_text("")
    with pytest.raises(
        ArtifactError, match=r"1 modules have no .* bytecode \(e\.g\. helpers\.py\)"
    ):
        build(tree, tmp_path / "fn.zip")
    assert not (tmp_path / "fn.zip").exists()


def test_the_command_prints_one_line_and_fails_on_a_missing_tree(tmp_path, capsys):
    assert main([str(tmp_path / "nothing"), str(tmp_path / "fn.zip")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "is not a directory" in err
    assert len(err.splitlines()) == 1


def test_every_entry_has_the_same_time_and_mode(tmp_path):
    tree = function_tree(tmp_path)
    build(tree, tmp_path / "fn.zip")
    with zipfile.ZipFile(tmp_path / "fn.zip") as zipped:
        infos = zipped.infolist()
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
