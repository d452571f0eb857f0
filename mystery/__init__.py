"""Mystery-call campaigns ("enquête téléphonie mystère") of the EPS switchboards.

One module per step: campaign (TOML) → planner (+ balance) → exports and call sheets → results
(form, CSV import, captured-call matching) → scoring and agreement → analysis → report (PDF,
XLSX) → actions. The CLI lives in mystery.cli*.
"""
