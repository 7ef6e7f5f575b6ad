"""Exports of a bundle's network: TorchScript and ONNX with the metadata inside (``formats``), and a bundle
folder's trained weights checked and exported (``folder``). The public names are in :mod:`monai_ext.bundle`."""
