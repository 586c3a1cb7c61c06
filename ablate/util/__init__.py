"""Leaf helpers every layer may use: credentials stripped from text (redaction), the folders a
command writes (launch_dir), file locks (locks). They import nothing else of ablate."""
