"""Accounts: password hashing, browser sessions, API tokens."""
