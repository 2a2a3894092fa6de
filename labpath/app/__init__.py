"""The use cases: one function per command, over a loaded context, returning a typed result."""
