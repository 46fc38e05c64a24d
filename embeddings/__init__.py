"""Text encoders and vector indexes, behind small interfaces so backends can change."""
from embeddings.encoder import Encoder, SentenceTransformerEncoder, TokenCounter, load_encoder
from embeddings.index import VectorIndex

__all__ = ["Encoder", "SentenceTransformerEncoder", "TokenCounter", "VectorIndex", "load_encoder"]
