"""Figures of a map over its image: three-plane montages in radiological orientation, the structure outlined, and the
grey-level range they show the image in."""
