"""Writing outputs: images, unpacked files (and, later, zea HDF5, DICOM and video)."""
