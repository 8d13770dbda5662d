"""The names of the drawing styles (``render.py`` draws them), importable without OpenCV.

``stickpose``: stickpose's own sub-pixel, anti-aliased drawing. ``class``: the class
baseline's generator of October 2021, which drew the class's ``Dataset.zip`` (each axis
stretched to [0, S], no limb at the leftmost or topmost joint, training batches stretched
together). ``class-2022``: the same generator since its 2022-10-27 fixes ([0, S - 1], every
limb, each image stretched alone). design.md section 9 has the rules.
"""
STYLES = ("stickpose", "class", "class-2022")
CLASS_STYLES = ("class", "class-2022")


def class_span(style: str, size: int) -> int:
    """The span a class style stretches poses to in an ``size`` x ``size`` frame: S in its
    2021 code (``class``: the rightmost joint at x = S, past the last column), S - 1 since."""
    if style not in CLASS_STYLES:
        raise ValueError(f"style {style!r} is not one of the class's: {', '.join(CLASS_STYLES)}")
    return size if style == "class" else size - 1
