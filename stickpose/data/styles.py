"""The names of the drawing styles (``render.py`` draws them), importable without OpenCV.

``stickpose``: stickpose's own sub-pixel, anti-aliased drawing. ``class``: the class
baseline's generator of October 2021, which drew the class's ``Dataset.zip`` (each axis
stretched to [0, S], no limb at the leftmost or topmost joint, training batches stretched
together). ``class-2022``: the same generator since its 2022-10-27 fixes ([0, S - 1], every
limb, each image stretched alone). design.md section 9 has the rules.
"""
STYLES = ("stickpose", "class", "class-2022")
CLASS_STYLES = ("class", "class-2022")
