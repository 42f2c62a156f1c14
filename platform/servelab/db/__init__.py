"""Database engine, sessions, tables and migrations."""
