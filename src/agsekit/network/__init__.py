"""What the agent's network looks like from the VM: proxies (proxies.py)."""
