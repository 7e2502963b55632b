"""Small helpers shared by the build stages (progress lines, timing)."""
