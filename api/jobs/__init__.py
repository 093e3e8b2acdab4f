"""JobQueue adapters (in-process threads, Cloud Tasks) and the schedule tick."""
