"""Configuration: one place loads and validates the YAML; everything else gets typed objects.

Import from the submodules: `config.model` (the frozen types, cheap to import),
`config.load` (YAML parsing and validation, which pulls in pydantic and ruamel.yaml),
`config.paths` (where the file is looked for).
"""
