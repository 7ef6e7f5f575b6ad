"""Intensity normalisation to ``[0, 1]``: CT windows in Hounsfield units, and robust percentiles for MR."""
