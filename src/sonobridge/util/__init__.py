"""Small utilities of the bottom layer (beside :mod:`sonobridge.errors`): no data model, no vendor."""
