"""Built-in processors: file output (AdOutputFileProcessor, Hdf5AdImageWriter) and encryption
(DataEncryptor, DataDecryptor, AdImageDataEncryptor, AdImageDataDecryptor), metadata
(AdMetadataProcessor)."""
