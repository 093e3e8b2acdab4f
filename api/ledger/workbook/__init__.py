"""The embedded LedgerSink: an .xlsx workbook written by our own streaming SpreadsheetML writer."""
