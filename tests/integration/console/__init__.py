"""The status page and console in a real browser (headless Chromium) against a
real gateway."""
