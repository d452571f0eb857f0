"""Alerts: rules over the store and the live state, sent by e-mail, webhook and the log.

Rules (`config/alerts.toml`) are evaluated by `qualiphone listen` (live rules, `alerts.live`)
and by `qualiphone alerts check` (the month, the after-hours probes, the directory). The
dispatcher (`alerts.engine`) sends each alert once when it fires, again at most every
cooldown, and once more when it clears, and stores every notice and delivery (`alerts.store`).
This area may import monitor/ and afterhours/; nothing below it imports it (the listener's CLI
composes the live evaluator, importing it only when it runs).
"""
