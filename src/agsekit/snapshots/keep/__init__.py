"""What is kept: pins and labels, retention, and the mass-deletion alarm."""
