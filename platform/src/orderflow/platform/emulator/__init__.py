"""Emulator extensions: what moto lacks and orderflow uses, filled in one separated place.

Each module here adds one AWS behaviour to moto (in-process or server mode) faithfully to the
AWS documentation, with tests; nothing here fakes a result.
"""
