"""Problems where the eye is: in the dock's status line as well as napari's toast."""

from __future__ import annotations

import html

from napari.utils.notifications import show_error


def show_problem(status, message: str) -> None:
    """Show ``message`` (a problem and its fix) whole in the magicgui ``status`` label,
    in red, and as a napari error notification, whose toast shows one elided line."""
    status.value = f'<span style="color:#e06c6c">{html.escape(message)}</span>'
    show_error(message)
