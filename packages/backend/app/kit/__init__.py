"""Shared helpers with no domain logic and no imports from the rest of ``app`` (any layer may use
them): time, text, numbers, database locks and pagination."""
