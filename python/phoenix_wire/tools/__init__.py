"""The `phoenix-wire` command-line tools: decode, encode, etf and simulate.

Each tool module exposes ``add_arguments(parser)`` and ``run(args) -> int``
(the exit status); ``phoenix_wire.cli`` registers them as subcommands. All
frame and term work is done by ``phoenix_wire`` itself; these modules only
read input, choose formats and print.
"""
