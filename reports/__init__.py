"""Monthly statements and the central synthesis (French). Not built yet."""
