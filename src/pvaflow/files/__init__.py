"""Writing frames to files: safe names, atomic writes, image formats."""
