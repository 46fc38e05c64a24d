"""qa: offline question answering over news articles, with checked citations."""

# Read by hatchling at build time; a literal, because importlib.metadata costs ~0.1 s per command.
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `qa --version` and `qa --help` never import numpy, faiss or torch.
    if name in ("Assistant", "Answer", "Citation", "LibraryError"):
        from qa import answering, api, errors

        return {"Assistant": api.Assistant, "Answer": answering.Answer,
                "Citation": answering.Citation, "LibraryError": errors.LibraryError}[name]
    raise AttributeError(name)


__all__ = ["Answer", "Assistant", "Citation", "LibraryError", "__version__"]
