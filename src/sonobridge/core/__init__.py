"""The core data model: recordings, streams, signals, geometry, units, lazy frames."""
