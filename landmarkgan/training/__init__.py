"""Training: the config file, atomic checkpoints with exact resume, and the alternating two-stage trainer."""
