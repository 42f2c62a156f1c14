"""ServeLab: an auto-graded course platform for serving ML models with FastAPI."""

__version__ = "0.1.0"
