"""Monthly switchboard statements per EPS and the central synthesis, in French (PDF, HTML, XLSX).

data (one read of the store, every figure through monitor.metrics) -> statement / synthesis
(one site's slice; the 17 side by side) -> text, tables, plots -> pdf, html, xlsx -> build
(file names and bytes) -> cli (`qualiphone report`, the only place files are written).
Nothing imports reports/ except the CLI registration.
"""
