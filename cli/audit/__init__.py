"""`vantage audit DOMAIN`: a launch-readiness report for one domain.

Layout: `collect` gathers facts with the agent's own probes (DNS, TLS, HTTP,
email auth) plus a few audit-only requests; `checks/` turns facts into
findings and is pure; `rules` is the catalog of finding ids; `render/` turns
a `Report` into text, Markdown, HTML or JSON; `write_checks` turns it into a
checks.yaml that keeps watching what was found.
"""
