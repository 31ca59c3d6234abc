"""What a docs folder becomes in the knowledge base: files stored, chunks, leaked markup.

Used by `python -m scripts.bench_knowledge --docs FOLDER` (and with `--fixture`, on the
generated Docusaurus-style site of scripts/docs_fixture.py). Prints counts per leak kind: the
target is every file stored and zero chunks with MDX import lines, JSX tags, `:::` fences,
`{#id}` anchors or JSON-LD.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

LEAKS = {
    "mdx_import_lines": re.compile(r"(?m)^\s*(?:import|export)\s"),
    "jsx_tags": re.compile(r"</?[A-Z][\w.]*[\s/>]|<img\b|<head\b|<details\b|<summary\b"),
    "admonition_fences": re.compile(r"(?m):::|^\s*(?:!!!|\?\?\?)\s"),
    "heading_anchors": re.compile(r"\{#[\w-]+\}"),
    "json_ld": re.compile(r"ld\+json|\"@context\""),
}


def audit(kb: Any, company: str, folder: Path, base_url: str | None = None) -> dict[str, Any]:
    """Ingest `folder` into `company` and count files, failures, chunks and leaks."""
    from knowledge.loaders import expand_paths
    from knowledge.store import collection_names

    files = sum(1 for _ in expand_paths(folder))
    started = time.perf_counter()
    report = kb.ingest(company, [folder], base_url=base_url)
    seconds = time.perf_counter() - started
    coll = kb.store.collection(collection_names(company)[0], create=False)
    texts = coll.get(include=["documents"])["documents"] if coll is not None else []
    return {
        "folder": folder.name,
        "files": files,
        "stored": len(kb.list_documents(company)),
        "failed": [p.error for p in report.failed],
        "chunks": len(texts),
        "ingest_seconds": round(seconds, 2),
        "chunks_with": {
            name: sum(bool(pattern.search(t or "")) for t in texts)
            for name, pattern in LEAKS.items()
        },
    }
