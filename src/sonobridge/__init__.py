"""sonobridge: ultrasound recordings from scanner and lab formats to open, analysis-ready data."""
__version__ = "0.1.0"
