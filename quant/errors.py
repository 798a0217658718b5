"""The one exception type that reaches users."""


class ImageError(ValueError):
    """An input image that quant cannot use, with a message a person understands.

    Every refusal of the loader (empty, corrupt, truncated, unsupported or too
    large) raises this type, so callers need to catch exactly one thing.
    """
