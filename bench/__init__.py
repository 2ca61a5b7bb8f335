"""Benchmarks, run as `python -m bench NAME [--quick]` (see DESIGN.md "Benchmarks").

Each benchmark divides the project's figure by a baseline measured in the same run on the same machine,
because absolute numbers on shared machines drift; it prints a table, then one JSON object as its last line.
"""
