"""Machinery shared by the probes in `agent/probes/`.

Probes import from here and never from each other: what two probe types
share (the HTTP client, certificate facts, DNS queries, the mapping of
library errors to failure reasons) lives in this package.
"""
