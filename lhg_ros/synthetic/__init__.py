"""Made-up data: speaker scenes for the demo, smoke-test sessions, the starter corpus."""
