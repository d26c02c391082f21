"""Readers of outside formats: files → canonical Arrow tables plus quarantined rows."""
