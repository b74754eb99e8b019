"""Refusals raised by the domain rules; the server turns them into ``error`` messages."""


class Refused(Exception):
    """A command that breaks a rule. Nothing has been changed when it is raised."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
