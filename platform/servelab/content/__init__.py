"""Loading and validating course content authored as files (lessons, quizzes, exercises)."""
