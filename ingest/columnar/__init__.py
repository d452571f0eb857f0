"""Vectorised importers: the fast path of `qualiphone ingest cdr|queue-log|cel`.

Each importer reads the file with polars (columns, not rows), proves which lines and which calls
are ordinary with strict checks, builds and finalizes those calls over columns, and hands every
line and every call it is not sure of to the reference importer (`ingest.cdr`, `ingest.queue_log`,
`ingest.cel` and `CaptureContext.finalize`), so that rejects, their reasons and every edge rule
stay in one place. The calls and rejects are written by the line-by-line import's writer, in
the reference's order (`ingest.columnar.batch`).
"""
