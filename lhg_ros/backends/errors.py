"""The one error every backend raises."""


class BackendError(RuntimeError):
    """A backend cannot run here or with these options; the message says what to do."""
