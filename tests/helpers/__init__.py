"""Plain helpers shared by the test modules (no fixtures: those live in tests/conftest.py).

Importable as `helpers` because pytest's rootdir-relative 'prepend' import mode puts tests/ on
sys.path (there is no tests/__init__.py)."""
