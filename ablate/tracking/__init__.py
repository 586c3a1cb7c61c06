"""Tracking: the only layer that talks to MLflow (store.py is the one module that imports it),
the store's address (uri), tag names (tags) and the sweep's shared view in the UI (ui_view)."""
