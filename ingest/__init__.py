"""Capture: importers of PBX files (CDR, queue_log, CEL, generic CSV) and the AMI listener."""
