"""Training augmentation: replayable per-volume affine and intensity changes, batch-wise resampling, the classifier's
mask batches, consistency pairs and simulated scanner acquisitions."""
