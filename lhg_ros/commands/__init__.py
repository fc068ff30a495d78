"""Implementations of the `lhg-ros` subcommands; each module has a `main(args) -> int`."""
