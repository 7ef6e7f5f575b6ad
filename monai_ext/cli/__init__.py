"""The ``monai-ext`` command line."""
