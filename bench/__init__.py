"""LegalTV performance benches: `python -m bench.run_all` (or `make bench`).

Each bench is also runnable alone: `python -m bench.server_bench`, `python -m bench.keypress_bench`,
`python -m bench.weight_bench`. Numbers are medians of runs made in the same session; compare
ratios, never absolute figures, across machines.
"""
