"""The one error type the CLI prints as a single line (no traceback): problems the user can fix."""


class UserError(Exception):
    """Bad input, missing file, unknown name...; ``str(e)`` is the whole message."""
