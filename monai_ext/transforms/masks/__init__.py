"""Transforms of label maps and masks: one structure picked out of a label map, and a mask's inner distance map."""
