"""Reports: the briefing (HTML and PDF) built from what the service releases."""
