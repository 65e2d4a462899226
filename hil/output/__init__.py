"""What a run leaves behind: records, recordings, reports, progress display."""
