"""Reading the project's CloudFormation/SAM templates (YAML with intrinsic-function tags).

Tests create their tables from the same ``template.yaml`` that deploys to AWS, and the local
runtime deploys those templates, so no second definition of the topology exists to drift.
"""

from __future__ import annotations

from orderflow.templates.cfn import (
    dynamodb_tables,
    load_template,
    resolve,
    resources_of_type,
)

__all__ = ["dynamodb_tables", "load_template", "resolve", "resources_of_type"]
