"""livetap's Textual UI and its command line: renders engine records, calls the engine API."""
