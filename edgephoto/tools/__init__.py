"""Developer tools that are not part of the runtime or the build pipeline (never imported by them)."""
