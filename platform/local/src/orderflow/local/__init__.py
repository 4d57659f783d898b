"""The local runtime: the whole pipeline on one machine, no AWS account and no Docker.

``runtime`` starts the embedded AWS (``emulator.server``), deploys every stack from its own
template (``stacks``), runs each function the way Lambda's SQS event source mapping does
(``functions``, ``pollers``, ``environment``) with optional fault injection (``faults``), and
backs ``orderflow up`` and ``orderflow demo`` (``commands``, ``status``, ``demo``), whose end is
a reconciliation from the services' own records (``reconciliation``).
"""
