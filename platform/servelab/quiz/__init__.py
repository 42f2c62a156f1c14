"""The quiz engine: scoring, attempts, shuffling, item statistics, charts and exports."""
