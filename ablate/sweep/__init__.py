"""The sweep around the jobs: preflight (every job checked before anything runs), the dry run,
the Hydra callback (parent run, report, per-arm table) and what the console prints."""
