"""The distribution runs\x27 pages and JSON API."""
