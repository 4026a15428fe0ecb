"""Errors of the config component: bad keys, bad values, bad files, unknown presets."""

from __future__ import annotations

from seqkit.errors import SeqkitError


class ConfigError(SeqkitError):
    """A configuration value, key, file or preset is wrong; the message says where and why."""


class UnknownConfigKeyError(ConfigError, KeyError):
    """A key that the config dataclass does not have; the message suggests the closest one."""

    def __init__(self, message: str, *, key: str, suggestion: str | None) -> None:
        super().__init__(message)
        self.key = key
        """The full dotted key that was not found."""

        self.suggestion = suggestion
        """The closest valid dotted key, if one is close enough."""

    def __str__(self) -> str:
        # KeyError.__str__ would quote the message; show it as a sentence.
        return str(self.args[0])


class ConfigTypeError(ConfigError, TypeError):
    """A value that does not fit the type of its config field."""

    def __init__(self, message: str, *, key: str, expected: str) -> None:
        super().__init__(message)
        self.key = key
        """The full dotted key whose value is wrong (empty for the root)."""

        self.expected = expected
        """The expected type, as shown to the user."""


class ConfigOverrideError(ConfigError, ValueError):
    """A ``--config`` override that is not of the form ``a.b.c=value``."""


class ConfigFileError(ConfigError, ValueError):
    """A config file that cannot be read or is not a YAML mapping."""


class UnknownPresetError(ConfigError, LookupError):
    """A preset name that the recipe does not have."""
