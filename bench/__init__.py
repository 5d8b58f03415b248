"""OrderDesk benchmarks (issue 6): `make bench` runs `python -m bench.run` and writes
bench/results.json. Every speed is a ratio against a raw floor measured in the same run."""
