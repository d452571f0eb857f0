"""Switchboard simulator: one model of a switchboard day, writers for what Asterisk writes."""
