"""A tiny target for `make run` and the tests."""
