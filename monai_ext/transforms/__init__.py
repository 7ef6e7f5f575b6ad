"""MONAI-compatible transforms: each array transform with its dictionary (``...d``) twin in one file."""
