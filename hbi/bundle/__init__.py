"""The per-book bundle, the source of truth: built from a book, written, read, verified, stored."""
