"""The `qualiphone` command: one root group that gathers each area's commands."""
