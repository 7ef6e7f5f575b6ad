"""Transforms of the voxel grid: RAS orientation and spacing, a fixed shape, and the dataset's centred cube."""
