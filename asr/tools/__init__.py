"""Offline tools that produce data files shipped in the asr package."""
