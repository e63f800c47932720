"""The zea HDF5 data format: field tables (:mod:`.schema`) and validation (:mod:`.validate`).
The user-facing API is :mod:`sonobridge.zea`."""
