"""Full backups, their retention, and restores (which are projections of saved bundles)."""
