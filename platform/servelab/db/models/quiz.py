"""Quiz tables (attempts, answers). Owned by the quiz engine."""
