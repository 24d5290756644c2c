"""Built-in processors: file output (AdOutputFileProcessor, Hdf5AdImageWriter)."""
