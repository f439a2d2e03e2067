"""Tray icons drawn with Pillow, one per pipeline state, so the state shows at a glance.

Colour and shape both change (not colour alone): a pixelated face on green
while anonymizing, the same face on amber with a clock hand when overloaded
(some frames are repeated or curtained), a plain face on red with a warning bar
when paused (real faces are published), a closed curtain on amber, a
struck-through camera on grey.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from vcam.pipeline.live import ANONYMIZING, CURTAIN, NO_CAMERA, OVERLOADED, PAUSED, STARTING

SIZE = 64
_COLOURS = {
    ANONYMIZING: (32, 150, 80),
    PAUSED: (200, 40, 40),
    CURTAIN: (220, 150, 20),
    NO_CAMERA: (110, 110, 110),
    STARTING: (220, 150, 20),
    OVERLOADED: (220, 150, 20),
}


def icon_image(state: str, size: int = SIZE) -> Image.Image:
    """The tray icon for `state` (one of the live pipeline's states)."""
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((2, 2, SIZE - 3, SIZE - 3), radius=12, fill=_COLOURS.get(state, _COLOURS[CURTAIN]))
    white = (255, 255, 255)
    if state in (ANONYMIZING, OVERLOADED):
        # A face made of blocks: it is there, but pixelated.
        for i, row in enumerate(("0110", "1111", "1111", "0110")):
            for j, on in enumerate(row):
                if on == "1":
                    x, y = 16 + j * 8, 12 + i * 8
                    d.rectangle((x, y, x + 6, y + 6), fill=white)
        if state == OVERLOADED:
            # ... and a clock: anonymizing, but behind.
            d.ellipse((38, 36, 60, 58), fill=(255, 255, 255), outline=(120, 80, 0), width=2)
            d.line((49, 47, 49, 40), fill=(120, 80, 0), width=2)
            d.line((49, 47, 55, 47), fill=(120, 80, 0), width=2)
        else:
            d.rectangle((14, 46, 50, 52), fill=white)
    elif state == PAUSED:
        d.ellipse((18, 10, 46, 42), outline=white, width=4)
        d.ellipse((25, 20, 29, 24), fill=white)
        d.ellipse((35, 20, 39, 24), fill=white)
        d.rectangle((8, 48, 56, 56), fill=(255, 230, 0))
    elif state == NO_CAMERA:
        d.rounded_rectangle((12, 22, 44, 44), radius=4, outline=white, width=4)
        d.polygon([(44, 30), (54, 24), (54, 42), (44, 36)], fill=white)
        d.line((10, 54, 54, 10), fill=white, width=5)
    else:
        # Curtain: the frame is closed.
        for x in range(12, 52, 8):
            d.rectangle((x, 10, x + 5, 54), fill=white)
    return img if size == SIZE else img.resize((size, size), Image.Resampling.LANCZOS)
