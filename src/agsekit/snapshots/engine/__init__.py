"""The writing engine and the store: walk, compare, build, commit, lock, remove."""
