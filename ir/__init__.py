"""The tfm dialect. See `ir.tfm` for the dialect object and `ir.types` for shape helpers."""
