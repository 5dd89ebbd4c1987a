"""One module per command group. Each is imported only when one of its commands runs."""
