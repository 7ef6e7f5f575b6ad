"""The fixed colour palette for segments whose metadata gives no colour (distinct, colour-blind aware)."""

from __future__ import annotations

__all__ = ["PALETTE", "palette_color"]

# label 1, 2, ... (0 is the background): Okabe-Ito colours first, then further distinct hues
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (128, 128, 128),
    (166, 86, 40),
    (152, 78, 163),
    (77, 175, 74),
    (228, 26, 28),
)


def palette_color(value: int) -> tuple[int, int, int]:
    """The palette colour of label ``value`` (cycles after 12 labels; label 0 and 1 share the first colour).

    Example:
        >>> palette_color(1)
        (230, 159, 0)
    """
    return PALETTE[(max(int(value), 1) - 1) % len(PALETTE)]
