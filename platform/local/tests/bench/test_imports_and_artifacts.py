"""Reading ``-X importtime`` output and measuring a zip, on small hand-made inputs."""

from __future__ import annotations

import zipfile

import pytest

from orderflow.bench.artifacts import METADATA_GROUP, artifact_size
from orderflow.bench.coldstart import (
    ImportGroup,
    import_lines,
    importers,
    imports_beyond_floor,
    module_group,
)
from orderflow.bench.stats import BenchError

FLOOR = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   json.decoder
import time:       200 |        300 | json
import time:      1000 |       1000 | boto3
"""

HANDLER = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   json.decoder
import time:       200 |        300 | json
import time:      3000 |       3000 |       asyncio.base_events
import time:       500 |       3500 |     asyncio
import time:       400 |       3900 |   aws_lambda_powertools.utilities.batch.base
import time:       100 |       4000 | aws_lambda_powertools.utilities.batch
import time:       700 |        700 |   pydantic
import time:        50 |        750 | orderflow.contracts.events
import time:        20 |       4770 | orderflow.payment.handler
"""


def test_importtime_lines_keep_each_modules_self_time_and_depth():
    lines = import_lines(HANDLER)
    assert [(line.module, line.self_us, line.depth) for line in lines[2:5]] == [
        ("asyncio.base_events", 3000, 3),
        ("asyncio", 500, 2),
        ("aws_lambda_powertools.utilities.batch.base", 400, 1),
    ]


def test_a_module_is_imported_by_the_next_line_one_level_up():
    parents = importers(import_lines(HANDLER))
    assert parents["asyncio"] == "aws_lambda_powertools.utilities.batch.base"
    assert parents["asyncio.base_events"] == "asyncio"
    assert parents["pydantic"] == "orderflow.contracts.events"
    assert "orderflow.payment.handler" not in parents


def test_what_a_handler_imports_beyond_boto3_is_grouped_and_traced_to_its_importer():
    groups = imports_beyond_floor(import_lines(FLOOR), import_lines(HANDLER))
    assert groups[:3] == [
        ImportGroup("asyncio", 3.5, "aws_lambda_powertools.utilities.batch.base"),
        ImportGroup("pydantic", 0.7, "orderflow.contracts.events"),
        ImportGroup("aws_lambda_powertools.utilities.batch", 0.5, "<main>"),
    ]
    # json is in the floor too: not the handler's cost
    assert "json" not in [g.name for g in groups]


def test_big_namespaces_are_grouped_a_level_deeper():
    assert module_group("orderflow.contracts.events") == "orderflow.contracts"
    assert module_group("aws_lambda_powertools.utilities.batch.base") == (
        "aws_lambda_powertools.utilities.batch"
    )
    assert module_group("pydantic._internal._fields") == "pydantic"


def test_an_artifact_is_measured_zipped_unzipped_and_by_top_level_entry(tmp_path):
    # GIVEN a zip with a package, a single-module distribution and metadata
    path = tmp_path / "payment.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pydantic/main.py", "x" * 3000)
        archive.writestr("pydantic/fields.py", "x" * 1000)
        archive.writestr("six.py", "x" * 500)
        archive.writestr("six-1.17.0.dist-info/RECORD", "x" * 200)
        archive.writestr("pydantic-2.0.dist-info/METADATA", "x" * 100)

    size = artifact_size(path)

    assert size.unzipped_bytes == 4800
    assert size.zipped_bytes == path.stat().st_size
    assert size.zipped_bytes < size.unzipped_bytes
    assert dict(size.by_entry) == {"pydantic": 4000, "six": 500, METADATA_GROUP: 300}
    assert size.largest(1) == [("pydantic", 0.004)]


def test_a_missing_artifact_says_how_to_make_it(tmp_path):
    with pytest.raises(BenchError, match="nox -s bench"):
        artifact_size(tmp_path / "missing.zip")


def test_an_artifact_says_what_it_leaves_to_the_runtime_and_the_powertools_layer(tmp_path):
    # GIVEN a zip without boto3 and Powertools, and one that still carries Powertools
    lean, heavy = tmp_path / "lean.zip", tmp_path / "heavy.zip"
    with zipfile.ZipFile(lean, "w") as archive:
        archive.writestr("pydantic/main.py", "x")
    with zipfile.ZipFile(heavy, "w") as archive:
        archive.writestr("pydantic/main.py", "x")
        archive.writestr("aws_lambda_powertools/__init__.py", "x")

    # WHEN each is measured
    lean_size, heavy_size = artifact_size(lean), artifact_size(heavy)

    # THEN the lean one names both as left out and who provides them; the other keeps Powertools
    assert lean_size.left_out() == [
        "boto3 (the Lambda runtime provides it)",
        "botocore (the Lambda runtime provides it)",
        "aws_lambda_powertools (the public Powertools layer provides it, at the locked version)",
    ]
    assert heavy_size.carries("aws_lambda_powertools")
    assert [entry.split(" ")[0] for entry in heavy_size.left_out()] == ["boto3", "botocore"]
