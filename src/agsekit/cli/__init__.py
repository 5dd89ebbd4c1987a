"""The command line: parse, call the domain, render. No domain logic and no subprocesses here."""
