"""Readers of outside formats: each turns files into canonical Arrow tables plus quarantined rows."""
