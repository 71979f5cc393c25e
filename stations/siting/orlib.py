"""Reader for the OR-Library uncapacitated p-median instances (Beasley 1985; pmed1..pmed40)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from stations.siting.problem import SitingError, SitingProblem

#: Published optima of pmed1..pmed40 (Beasley 1985, OR-Library `pmedopt`).
PMED_OPTIMA: dict[str, int] = {
    f"pmed{i + 1}": v
    for i, v in enumerate(
        [5819, 4093, 4250, 3034, 1355, 7824, 5631, 4445, 2734, 1255,
         7696, 6634, 4374, 2968, 1729, 8162, 6999, 4809, 2845, 1789,
         9138, 8579, 4619, 2961, 1828, 9917, 8307, 4498, 3033, 1989,
         10086, 9297, 4700, 3013, 10400, 9934, 5057, 11060, 9423, 5128]
    )
}  # fmt: skip


def read_orlib(path: Path) -> SitingProblem:
    """Read an OR-Library p-median file into a problem over its all-pairs shortest paths.

    Format: `n m p` then `m` lines `i j cost` (undirected edge, 1-based). Where the same pair
    appears more than once the last line wins, as in the published optima. Every node is a
    demand point of weight 1 and a candidate site.
    """
    tokens = Path(path).read_text().split()
    if len(tokens) < 3:
        raise SitingError(f"{path}: not an OR-Library p-median file")
    n, m, p = (int(t) for t in tokens[:3])
    # Some copies append the optimum to the first line; edges start after the header line.
    header_len = len(Path(path).read_text().lstrip().splitlines()[0].split())
    body = np.array(tokens[header_len:], dtype=np.int64)
    if body.size != 3 * m:
        raise SitingError(f"{path}: expected {m} edges, found {body.size / 3:g}")
    edges = body.reshape(m, 3)
    i, j = edges[:, 0] - 1, edges[:, 1] - 1
    if (i < 0).any() or (j < 0).any() or (i >= n).any() or (j >= n).any():
        raise SitingError(f"{path}: node index outside 1..{n}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    # Keep the last line of each undirected pair: reverse, then take first occurrences.
    _, first_from_end = np.unique(key[::-1], return_index=True)
    keep = m - 1 - first_from_end
    keep = keep[lo[keep] != hi[keep]]
    rows = np.concatenate([lo[keep], hi[keep]])
    cols = np.concatenate([hi[keep], lo[keep]])
    cost = np.concatenate([edges[keep, 2], edges[keep, 2]]).astype(np.float64)
    graph = csr_matrix((cost, (rows, cols)), shape=(n, n))
    dist = shortest_path(graph, method="D", directed=False)
    return SitingProblem(cost=dist, p=p)
