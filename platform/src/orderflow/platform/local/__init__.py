"""The local runtime: the whole pipeline on one machine, no AWS account and no Docker."""
