"""Lossless videos with a frame index: the writer (one mp4 per image stream, its index and
datanavigator's ``.dnav-toc``) and a frame-accurate reader for any mp4."""
