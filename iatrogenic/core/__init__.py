"""Core statistics: reliable change, clinical significance and their summaries."""
