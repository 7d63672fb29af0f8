"""Curation: pairs generated from chunks, then filters, dedup, source checks, judge, preferences,
decontamination, the split and the data-quality report."""
