"""Calibrated TIFF stacks for ImageJ/Fiji and napari users (write only): one image stream as an
ImageJ hyperstack with its pixel size in mm and its frame interval."""
