"""Readers of the park's input files and writers of every output file."""
