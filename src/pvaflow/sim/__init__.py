"""The Area Detector simulation server: frame sources, pacing and publishing."""
