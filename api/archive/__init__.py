"""FileStore adapters: the archive of invoice PDFs and CSVs (a local folder, or Google Drive)."""
