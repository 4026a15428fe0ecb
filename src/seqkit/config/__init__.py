"""Configuration: safe YAML loading, dataclass <-> YAML structuring, overrides, presets."""
