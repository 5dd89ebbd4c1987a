"""Reading the history: snapshot listings, diffs, lost files, one file's versions."""
