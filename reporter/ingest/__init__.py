"""Fill gpureport's Lens-schema store from other systems (today: Prometheus).

Import ``reporter.ingest.prometheus`` for ``ingest_prometheus``; this package stays empty so
that importing it costs nothing.
"""
