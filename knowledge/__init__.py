"""Flask-free RAG: loaders, chunking, embedding, Chroma store, hybrid search."""
