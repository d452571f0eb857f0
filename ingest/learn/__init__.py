"""Learning the site directory from what the PBX writes (`qualiphone sites learn`)."""
