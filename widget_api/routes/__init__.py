"""Thin HTTP adapters: parse and validate, call one plain function, serialize."""
