"""Toolchain bundles: what a VM's `install:` list puts into it, and `agsekit provision`."""
