"""The store: connections, transactions and migrations (database), every SQL statement (runs)."""
