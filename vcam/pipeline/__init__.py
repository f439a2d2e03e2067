"""A frame's way from a source to a sink: sources, the anonymizer (fail closed), effects, sinks,
the live loop and file mode."""
