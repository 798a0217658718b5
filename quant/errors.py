"""The one exception type that reaches users."""


class ImageError(ValueError):
    """An input image that quant cannot use, with a message a person understands.

    Every refusal of the loader (empty, corrupt, truncated, unsupported or too
    large) raises this type, so callers need to catch exactly one thing.
    """


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters with an ellipsis: fit for a one-line message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
