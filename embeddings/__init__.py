"""Text encoders and vector indexes, behind small interfaces so backends can change.

Import from the modules (``embeddings.encoder``, ``embeddings.index``, ``embeddings.files``): this
file imports nothing, so hashing a model file never loads ONNX Runtime.
"""
