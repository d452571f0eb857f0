"""Mystery-call campaigns. Not built yet."""
