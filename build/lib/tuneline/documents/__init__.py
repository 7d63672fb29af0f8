"""Documents in: readers for each format, ingest (manifest, documents, chunks), imported
instruction data and Hugging Face datasets."""
