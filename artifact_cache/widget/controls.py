"""The browser's form controls, made alike: a label beside each field, a fixed width,
buttons sized to their text. Imports ipywidgets only.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

__all__ = ["button", "count_box", "labelled", "text_box"]

_NARROW = {"description_width": "initial"}
"""Labels as wide as their text, beside the field."""


def text_box(description: str, placeholder: str, width: str) -> widgets.Text:
    """A text field that reports every keystroke (the filters follow the typing)."""
    return widgets.Text(
        description=description,
        placeholder=placeholder,
        continuous_update=True,
        style=_NARROW,
        layout=widgets.Layout(width=width),
    )


def count_box(description: str, tooltip: str, width: str, most: int) -> widgets.BoundedIntText:
    """A whole number from 0 (meaning: no limit) to ``most``."""
    return widgets.BoundedIntText(
        description=description,
        value=0,
        min=0,
        max=most,
        tooltip=tooltip,
        style=_NARROW,
        layout=widgets.Layout(width=width),
    )


def labelled(widget_type: type, description: str, width: str, **options: Any) -> Any:
    """Any other labelled field (a dropdown, a date picker) of the same look."""
    return widget_type(
        description=description, style=_NARROW, layout=widgets.Layout(width=width), **options
    )


def button(description: str, width: str = "auto", **options: Any) -> widgets.Button:
    """A button; ``options`` as ipywidgets' (icon, tooltip, button_style)."""
    return widgets.Button(description=description, layout=widgets.Layout(width=width), **options)
