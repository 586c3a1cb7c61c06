"""One job = one grid cell: its replicates' lifecycle (replicate), the cell's training (cell),
skip/resume (resume, fingerprint), components built from `_target_` (components), the job's
environment and resources, and the launcher contract (contract)."""
