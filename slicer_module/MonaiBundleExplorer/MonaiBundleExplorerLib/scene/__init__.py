"""MRML only: volume, label map and segmentation nodes to files and back, overlays, tables, segments in and out,
and the DICOM database (import, the input node's instance files).
"""
