"""What a run writes: the maps as NIfTI, a PNG montage and ``result.json``, atomically (``write``), and the montage
over a background image (``background_montage``)."""
