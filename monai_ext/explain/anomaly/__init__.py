"""Anomaly maps and scores of a shape autoencoder: the reconstruction residual and the thickness-aware score."""
