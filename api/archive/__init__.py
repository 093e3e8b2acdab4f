"""FileStore adapters: the archive of invoice PDFs and CSVs (a local folder, or Google Drive)."""

EXPORT_KEY = "export:"  # the key prefix of an export file's tag, in both archives
