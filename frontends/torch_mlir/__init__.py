"""torch-mlir interoperability: read torch-dialect MLIR (`parse`), translate it to tfm
(`translate`), and produce it from a model with torch-mlir's fx importer (`export`).

The public entry points are in `frontends.torch_mlir_import`.
"""
