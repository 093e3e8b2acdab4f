"""Extractor adapters: a PDF in, a Document (entities, pages) out. Local rules or Document AI."""
