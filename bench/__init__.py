"""`make bench`: synthetic scale data and measurements (docs/benchmarks.md). Not part of `make test`."""
