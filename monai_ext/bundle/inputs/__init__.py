"""What a run reads: one input volume (``source``), several volumes as channels (``channels``), and the image a
segmentation was drawn on, shown under the maps (``background``)."""
