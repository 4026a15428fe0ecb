"""The root of seqkit's error hierarchy.

Every failure a user can cause (bad config, bad card, bad data, bad command line) is
raised as a subclass of :class:`SeqkitError`; the CLI prints its message and exits with
status 2 instead of showing a traceback.
"""

from __future__ import annotations


class SeqkitError(Exception):
    """A failure caused by input the user can fix; the message names the thing and the fix."""
