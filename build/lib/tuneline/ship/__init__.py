"""Shipping a trained model: evaluation, the promotion rule, GGUF export and its checks, the Hub."""
