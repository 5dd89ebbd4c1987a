"""Ignore rules: .backupignore files and --exclude patterns with gitignore semantics."""
