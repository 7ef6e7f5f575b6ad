"""Volume files and their geometry without Slicer (pure numpy): IJK/RAS/LPS matrices, and the small NIfTI and
NRRD readers and writers the GUI side uses.
"""
